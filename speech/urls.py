from django.urls import path

from speech import views

app_name = "speech"

urlpatterns = [
    path("projects/<int:pk>/speech/new/", views.speech_create, name="create"),
    path("speech/<int:pk>/", views.speech_detail, name="detail"),
    path("speech/<int:pk>/status/", views.speech_status, name="status"),
]

from django.urls import path

from speech import views

app_name = "speech"

urlpatterns = [
    path("projects/<int:pk>/speech/new/", views.speech_create, name="create"),
    path("speech/<int:pk>/", views.speech_detail, name="detail"),
    path("voices/<str:name>/sample.wav", views.voice_sample, name="voice_sample"),
    path("speech/<int:pk>/status/", views.speech_status, name="status"),
    path("projects/<int:pk>/scripts/new/", views.script_batch_create, name="script_batch_create"),
    path("scripts/<int:pk>/", views.script_batch_detail, name="script_batch"),
]

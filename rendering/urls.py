from django.urls import path

from rendering import views

app_name = "rendering"

urlpatterns = [
    path("projects/<int:pk>/batches/new/", views.batch_create, name="batch_create"),
    path("projects/<int:pk>/history/", views.history, name="project_history"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
    path("batches/<int:pk>/status/", views.batch_status, name="batch_status"),
    path("batches/<int:pk>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("batches/<int:pk>/download.zip", views.batch_zip, name="batch_zip"),
    path("renders/<int:pk>/", views.render_detail, name="render"),
    path("renders/<int:pk>/row/", views.render_row, name="render_row"),
    path("renders/<int:pk>/video/", views.render_file, name="render_file"),
    path("renders/<int:pk>/cancel/", views.render_cancel, name="render_cancel"),
    path("renders/<int:pk>/retry/", views.render_retry, name="render_retry"),
    path("renders/<int:pk>/rerun/", views.render_rerun, name="render_rerun"),
    path("history/", views.history, name="history"),
]

from django.urls import path

from projects import views

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", views.project_create, name="create"),
    path("<int:pk>/", views.project_detail, name="detail"),
    path("<int:pk>/edit/", views.project_edit, name="edit"),
    path("<int:pk>/archive/", views.project_archive, name="archive"),
    path("<int:pk>/delete/", views.project_delete, name="delete"),
    path("<int:pk>/upload/", views.asset_upload, name="upload"),
    path("<int:pk>/share/", views.project_share, name="share"),
    path("<int:pk>/activity/", views.project_activity, name="activity"),
    path("<int:pk>/templates/new/", views.template_create, name="template_create"),
    path("assets/<int:pk>/", views.asset_detail, name="asset"),
    path("assets/<int:pk>/file/", views.asset_file, name="asset_file"),
    path("assets/<int:pk>/poster/", views.asset_poster, name="asset_poster"),
    path("assets/<int:pk>/delete/", views.asset_delete, name="asset_delete"),
    path("templates/<int:pk>/", views.template_edit, name="template_edit"),
    path("templates/<int:pk>/delete/", views.template_delete, name="template_delete"),
]

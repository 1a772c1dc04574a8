from django.urls import path

from rendering import ops_views

app_name = "ops"

urlpatterns = [
    path("", ops_views.dashboard, name="dashboard"),
    path("cleanup/", ops_views.cleanup_view, name="cleanup"),
    path("members/<int:user_id>/cancel/", ops_views.cancel_member_work, name="cancel_member_work"),
]

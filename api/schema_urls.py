"""The API's real views, for the OpenAPI schema (api/urls.py serves them lazily)."""

from django.urls import include, path

from api import views
from api.routes import ROUTES

urlpatterns = [
    path("api/v1/", include(([path(route, getattr(views, view).as_view(), name=name) for route, view, name in ROUTES],
                             "api"))),
]

from __future__ import annotations

from importlib import import_module

from django.urls import path

from api.routes import ROUTES

app_name = "api"


class LazyView:
    """A view imported on its first request. CSRF is the API's own business
    (Django REST framework checks it for session logins, not for tokens)."""

    csrf_exempt = True

    def __init__(self, module: str, name: str, **initkwargs):
        self.module, self.name, self.initkwargs = module, name, initkwargs
        self._view = None

    def __call__(self, request, *args, **kwargs):
        if self._view is None:
            self._view = getattr(import_module(self.module), self.name).as_view(**self.initkwargs)
        return self._view(request, *args, **kwargs)


urlpatterns = [path(route, LazyView("api.views", view), name=name) for route, view, name in ROUTES] + [
    path("schema/", LazyView("drf_spectacular.views", "SpectacularAPIView", urlconf="api.schema_urls"), name="schema"),
    path("docs/", LazyView("drf_spectacular.views", "SpectacularSwaggerSplitView", url_name="api:schema"), name="docs"),
]

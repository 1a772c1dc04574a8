from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from heygem_site import health

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False), name="home"),
    path("accounts/", include("accounts.urls")),
    path("projects/", include("projects.urls")),
    path("", include("rendering.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]

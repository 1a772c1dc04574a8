from django.contrib import admin
from django.urls import include, path

from heygem_site import health, views

urlpatterns = [
    path("", views.dashboard, name="home"),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("api.page_urls")),
    path("projects/", include("projects.urls")),
    path("", include("rendering.urls")),
    path("api/v1/", include("api.urls")),
    path("", include("speech.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("ops/", include("rendering.ops_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "heygem_site.errors.page_not_found"
handler500 = "heygem_site.errors.server_error"

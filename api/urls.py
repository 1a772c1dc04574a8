from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views

app_name = "api"

urlpatterns = [
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:pk>/archive/", views.ProjectArchive.as_view(), name="project-archive"),
    path("projects/<int:pk>/restore/", views.ProjectRestore.as_view(), name="project-restore"),
    path("projects/<int:pk>/assets/", views.AssetList.as_view(), name="asset-list"),
    path("projects/<int:pk>/templates/", views.TemplateList.as_view(), name="template-list"),
    path("assets/<int:pk>/", views.AssetDetail.as_view(), name="asset-detail"),
    path("templates/<int:pk>/", views.TemplateDetail.as_view(), name="template-detail"),
    path("batches/", views.BatchList.as_view(), name="batch-list"),
    path("batches/<int:pk>/", views.BatchDetail.as_view(), name="batch-detail"),
    path("batches/<int:pk>/cancel/", views.BatchCancel.as_view(), name="batch-cancel"),
    path("batches/<int:pk>/retry/", views.BatchRetry.as_view(), name="batch-retry"),
    path("renders/", views.RenderList.as_view(), name="render-list"),
    path("renders/<int:pk>/", views.RenderDetail.as_view(), name="render-detail"),
    path("renders/<int:pk>/manifest/", views.RenderManifest.as_view(), name="render-manifest"),
    path("renders/<int:pk>/log/", views.RenderLog.as_view(), name="render-log"),
    path("renders/<int:pk>/cancel/", views.RenderCancel.as_view(), name="render-cancel"),
    path("renders/<int:pk>/retry/", views.RenderRetry.as_view(), name="render-retry"),
    path("renders/<int:pk>/download/", views.RenderDownload.as_view(), name="render-download"),
    path("webhooks/", views.WebhookList.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", views.WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/deliveries/", views.WebhookDeliveries.as_view(), name="webhook-deliveries"),
    path("deliveries/<int:pk>/resend/", views.WebhookResend.as_view(), name="delivery-resend"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

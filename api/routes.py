"""The API's routes, in one table: api/urls.py serves them through lazy views
(the web process imports Django REST framework, about 20 MiB, only when the
first API request comes), api/schema_urls.py with the real views for the
OpenAPI schema."""

ROUTES = [
    ("projects/", "ProjectList", "project-list"),
    ("projects/<int:pk>/", "ProjectDetail", "project-detail"),
    ("projects/<int:pk>/archive/", "ProjectArchive", "project-archive"),
    ("projects/<int:pk>/restore/", "ProjectRestore", "project-restore"),
    ("projects/<int:pk>/assets/", "AssetList", "asset-list"),
    ("projects/<int:pk>/templates/", "TemplateList", "template-list"),
    ("assets/<int:pk>/", "AssetDetail", "asset-detail"),
    ("templates/<int:pk>/", "TemplateDetail", "template-detail"),
    ("batches/", "BatchList", "batch-list"),
    ("batches/<int:pk>/", "BatchDetail", "batch-detail"),
    ("batches/<int:pk>/cancel/", "BatchCancel", "batch-cancel"),
    ("batches/<int:pk>/retry/", "BatchRetry", "batch-retry"),
    ("renders/", "RenderList", "render-list"),
    ("renders/<int:pk>/", "RenderDetail", "render-detail"),
    ("renders/<int:pk>/manifest/", "RenderManifest", "render-manifest"),
    ("renders/<int:pk>/log/", "RenderLog", "render-log"),
    ("renders/<int:pk>/cancel/", "RenderCancel", "render-cancel"),
    ("renders/<int:pk>/retry/", "RenderRetry", "render-retry"),
    ("renders/<int:pk>/download/", "RenderDownload", "render-download"),
    ("voices/", "VoiceList", "voice-list"),
    ("projects/<int:pk>/speech/", "SpeechList", "speech-list"),
    ("speech/<int:pk>/", "SpeechDetail", "speech-detail"),
    ("projects/<int:pk>/script-batches/", "ScriptBatchList", "script-batch-list"),
    ("script-batches/<int:pk>/", "ScriptBatchDetail", "script-batch-detail"),
    ("webhooks/", "WebhookList", "webhook-list"),
    ("webhooks/<int:pk>/", "WebhookDetail", "webhook-detail"),
    ("webhooks/<int:pk>/deliveries/", "WebhookDeliveries", "webhook-deliveries"),
    ("deliveries/<int:pk>/resend/", "WebhookResend", "delivery-resend"),
]

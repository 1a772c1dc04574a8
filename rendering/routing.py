from django.urls import path

from rendering.consumers import ProgressConsumer

websocket_urlpatterns = [
    path("ws/batches/<int:batch_id>/", ProgressConsumer.as_asgi()),
    path("ws/progress/", ProgressConsumer.as_asgi()),
]

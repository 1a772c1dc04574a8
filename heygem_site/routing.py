from rendering.routing import websocket_urlpatterns as rendering_ws

websocket_urlpatterns = [*rendering_ws]

"""HTTP + WebSocket entry point, served by daphne (`python -m heygem_site.webserver`)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heygem_site.settings")
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from heygem_site.request_body import BodyFileASGIHandler, BoundedBody  # noqa: E402
from heygem_site.routing import websocket_urlpatterns  # noqa: E402

# Request bodies: limited per URL, spooled to disk (see request_body.py).
django_asgi_app = BoundedBody(BodyFileASGIHandler())

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

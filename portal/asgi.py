"""The one ASGI application: HTTP (Django) and websockets (Channels), served by uvicorn."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup(set_prefix=False)  # as get_asgi_application() does

from portal.asgi_handler import SyncChainASGIHandler  # noqa: E402

django_http = SyncChainASGIHandler()  # before importing consumers (they touch the ORM)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from journeys.api.fast_intake import signal_fast_path  # noqa: E402
from portal.embedded import with_lifespan  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402
from portal.ws_auth import WebsocketAuth  # noqa: E402

application = with_lifespan(
    ProtocolTypeRouter(
        {
            "http": signal_fast_path(django_http),
            "websocket": WebsocketAuth(URLRouter(websocket_urlpatterns)),
        }
    )
)

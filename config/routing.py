"""WebSocket routes: the browser's (served by config/asgi.py under AuthMiddlewareStack and the Origin check) and
the agents' (served as they are: see :func:`websocket_application`)."""

from django.apps import apps
from django.urls import path

from twins import consumers

websocket_urlpatterns = [
    path("ws/twins/<str:slug>/", consumers.TwinConsumer.as_asgi(), name="ws-twin"),
    path("ws/owner/", consumers.OwnerConsumer.as_asgi(), name="ws-owner"),
]

if apps.is_installed("credentials"):
    from credentials.consumers import EmergencyConsumer

    # No session needed: the emergency link's token is the authority (credentials/consumers.py).
    websocket_urlpatterns.append(path("ws/emergency/<str:token>/", EmergencyConsumer.as_asgi(), name="ws-emergency"))

# DIDComm's WebSocket transport: the envelope authenticates the sender; no cookie or session is involved.
DIDCOMM_WS_PATHS = frozenset({"/didcomm/ws", "/didcomm/ws/"})
if apps.is_installed("didcomm"):
    from didcomm.consumers import DIDCommConsumer

    didcomm_ws = DIDCommConsumer.as_asgi()
else:
    didcomm_ws = None


def websocket_application(browser_application):
    """``/didcomm/ws`` straight to its consumer, every other path to ``browser_application``.

    Agents send no Origin header, which the browser routes' Origin check refuses; that check guards cookie
    sessions against cross-site sockets, and the DIDComm route reads no cookie, so skipping it opens nothing.
    """

    async def application(scope, receive, send):
        if didcomm_ws is not None and scope["path"] in DIDCOMM_WS_PATHS:
            return await didcomm_ws(scope, receive, send)
        return await browser_application(scope, receive, send)

    return application

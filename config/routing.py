"""WebSocket routes: the one list config/asgi.py serves under AuthMiddlewareStack."""

from django.urls import path

from twins import consumers

websocket_urlpatterns = [
    path("ws/twins/<str:slug>/", consumers.TwinConsumer.as_asgi(), name="ws-twin"),
    path("ws/owner/", consumers.OwnerConsumer.as_asgi(), name="ws-owner"),
]

"""WebSocket routes. Live pages arrive with the readings issue; the list is the one place to add them."""

websocket_urlpatterns: list = []

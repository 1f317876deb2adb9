from django.urls import path

from didcomm import views

# Included at "didcomm/": the endpoint every twin's DID document names (SITE_URL/didcomm/).
urlpatterns = [
    path("", views.inbound, name="didcomm-inbound"),
]

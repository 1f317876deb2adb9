"""Run the MQTT bridge: signed readings from `thingstead/<source-id>/readings` on the broker at MQTT_URL."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from ingest.mqtt import CLIENT_ID, Bridge, broker_from_url


class Command(BaseCommand):
    help = "Subscribe to thingstead/+/readings on MQTT_URL and store signed readings; run as its own service."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--client-id",
            default=CLIENT_ID,
            help="MQTT client id; the broker keeps this id's session (queued messages) while the bridge is down.",
        )

    def handle(self, *args, client_id: str, **options) -> None:
        stop = threading.Event()

        # SIGTERM (systemd, Docker) and Ctrl-C: finish the message in hand, disconnect cleanly, exit. Anything not
        # yet acknowledged stays with the broker.
        def request_stop(signum, frame) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        Bridge(broker=broker_from_url(settings.MQTT_URL), stop=stop, client_id=client_id).run()

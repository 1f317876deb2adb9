"""Run the ingest gateway (ingest/gateway.py): `POST /hooks/<source-id>` with group commit, for production."""

from __future__ import annotations

import uvicorn
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve POST /hooks/<source-id> (signed readings) in its own process, storing concurrent messages with one"
        " COMMIT; the proxy sends /hooks/ here. SIGTERM answers what arrived, then exits."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8003)
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Processes (each with one committer thread and one database connection); 1 or 2 per core.",
        )

    def handle(self, *args, host: str, port: int, workers: int, **options) -> None:
        uvicorn.run(
            "config.gateway:application",
            host=host,
            port=port,
            workers=workers,
            http="httptools",
            loop="uvloop",
            lifespan="on",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            date_header=False,
            log_level="warning",
        )

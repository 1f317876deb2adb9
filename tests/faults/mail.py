"""A mail backend for worker processes under test: each message becomes a file in FAULTS_MAIL_DIR.

If `block-next-send` exists there, the next send removes it, creates `sending`, and blocks until the process is
killed: a worker caught in the middle of an SMTP conversation.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class RecordingBackend(BaseEmailBackend):
    def send_messages(self, messages) -> int:
        folder = Path(os.environ["FAULTS_MAIL_DIR"])
        block = folder / "block-next-send"
        if block.exists():
            block.unlink()
            (folder / "sending").touch()
            while True:
                time.sleep(1)
        for message in messages:
            (folder / f"{uuid.uuid4().hex}.eml").write_bytes(message.message().as_bytes())
        return len(messages)


def sent(folder: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(folder.glob("*.eml"))]

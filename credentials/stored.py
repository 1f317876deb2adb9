"""What every kept credential model shares (ownership, access, authenticity)."""

from __future__ import annotations

import json
from typing import Any


class StoredCredential:
    """What every kept credential answers: its signed JSON (`document`) as a dict, and whether it is revoked
    (`revoked_at`)."""

    document: str
    revoked_at: Any

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.document)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

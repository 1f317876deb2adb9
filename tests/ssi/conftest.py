"""Fixtures for the ssi tests.

There is deliberately no ``__init__.py`` here: as a package this folder would
be imported as ``ssi`` and shadow the library under test. Test modules are
named ``test_ssi_*`` so their basenames stay unique across the repository.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo root, whatever pytest's rootdir settings
    sys.path.insert(0, str(ROOT))

from ssi.keys import SigningKey  # noqa: E402  (needs the sys.path line above)


def _seeded_key(n: int) -> SigningKey:
    return SigningKey.from_seed(n.to_bytes(32, "big"))


@pytest.fixture
def make_key() -> Callable[[int], SigningKey]:
    """A deterministic Ed25519 key from a small integer seed."""
    return _seeded_key

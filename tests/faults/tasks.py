"""A task for the fault tests: slow on purpose, leaving one line per run in a file."""

from __future__ import annotations

import time
from pathlib import Path

from django.tasks import task


@task()
def slow_append(path: str, seconds: float) -> None:
    time.sleep(seconds)
    with Path(path).open("a") as out:
        out.write("ran\n")

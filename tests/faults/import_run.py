"""A process that imports a production batch into the database named by DATABASE_URL, for the crash test
(tests/faults/test_import_crash.py): `python -m tests.faults.import_run <gtin> <count> [<marker>]`.

With a marker path, it stops at the last step inside the batch's transaction, when every row of the batch has been
written but not committed (twins, DID log entries, tags, history, produced rows, authenticity credentials): it
creates the marker and waits there to be killed. The pause wraps that step and runs it first; nothing of the
import is replaced. Without one, it imports and prints how many things it made; a refusal exits with status 3 and
its message.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(gtin: str, count: int, marker: str | None) -> int:
    import django

    django.setup()
    from makers import production
    from makers.models import ProductModel

    if marker:
        issue = production.authenticity.issue_for_produced

        def issue_then_wait(*args, **kwargs):
            result = issue(*args, **kwargs)
            Path(marker).touch()
            time.sleep(120)  # the test kills this process here
            return result

        production.authenticity.issue_for_produced = issue_then_wait
    model = ProductModel.objects.get(gtin=gtin)
    for _ in range(2):
        try:
            made = production.produce(model=model, serials=[f"K-{n:05d}" for n in range(count)], by=None)
        except production.ProductionRefused as exc:
            print(f"refused: {exc.message}")
        else:
            print(len(made))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))

"""Things that moved away before ``leaving_to`` existed (0017) get it set to where they went, as a release leaves
it: the signed history's hot path (twins.history.APPEND_FIELDS) reads only ``leaving_to`` to refuse an append for a
thing that is leaving or has moved."""

from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    Twin = apps.get_model("twins", "Twin")
    Twin.objects.exclude(moved_to="").filter(leaving_to="").update(leaving_to=F("moved_to"))


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0017_twin_leaving_to"),
    ]

    # Backwards: nothing to undo (0017's reversal drops the column).
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""Sales before session 11 left the seller's sources linked to the sold thing; unlink them.

Since then a sale removes, in its transaction, every link of the thing to a source that is not the buyer's
(ingest.transfer, a Transferred subscriber). Older databases still hold such links: the seller's source page lists
the sold thing with the buyer's name for it, and only receiving's and a move's export's owner checks stand between
the seller's sender and the buyer's thing. This removes every link whose source's owner is not the
thing's current owner, the rule the subscriber applies at each sale. The thing's device keys are the thing's and
stay; the buyer links their own sources as they like. Not reversible: those links must not come back.
"""

from django.db import migrations
from django.db.models import F


def unlink_other_owners_sources(apps, schema_editor) -> None:
    SourceThing = apps.get_model("ingest", "SourceThing")
    SourceThing.objects.exclude(source__owner_id=F("twin__owner_id")).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0011_signed_reading_once"),
    ]

    operations = [
        migrations.RunPython(unlink_other_owners_sources, migrations.RunPython.noop),
    ]

"""An index on DeviceKey.public_key: is this key registered on another thing?

ingest.devices.device_key_add refuses a key that is registered on another thing (one device key per thing), and
ingest.devices.active_keys asks, per message, whether each of a thing's active keys is also on another thing: a
reading that does not sign its `thing` could otherwise be replayed from one of them onto the other. Keys that are on
two things already (registered before the rule, or brought by a moved thing) are left as they are: they keep
working, for readings that give and sign `thing` (ingest.devices.check_reading). So nothing here can fail on
existing rows.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0012_sellers_links_unlinked"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="devicekey",
            index=models.Index(fields=["public_key"], name="devicekey_public_key_idx"),
        ),
    ]

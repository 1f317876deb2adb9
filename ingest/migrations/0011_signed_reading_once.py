"""PostgreSQL: ingest_store_small() stores a device signature at most once per thing (review finding 3).

Receiving leaves out a device-signed reading whose signature is stored already for its thing
(ingest.receive._without_repeats), but it reads without a lock: two deliveries of the same signed reading under
different webhook-ids, racing each other, would both pass. So the function also checks, under the things' row locks
it already takes (a message waiting for them sees the other's committed rows, each statement of a volatile function
reading afresh), and refuses the whole message if one of its device-signed readings is there: nothing stored, the
sender's retry of the message is then answered by the check before the write (a 200 naming the reading in
`refused`). The signed time is required and is the reading's time, so the lookup is the thing's (twin_id, time)
index (reading_recent_idx) in the month's partition: no index of its own on the readings table. A message without
device-signed readings pays nothing (the JSON containment test). Same signature: ingest_store_group, which calls
it, stays.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("ingest.migrations.0009_live_under_lock")

# SQLSTATE of the refusal: a unique violation (IntegrityError in Python), which it is.
_AFTER_DELIVERY = """    created := true;
"""
_CHECK = """    created := true;
    -- A device signature stored at most once per thing (ingest.devices.ALREADY_STORED); under the locks above.
    -- LATERAL ... LIMIT 1: one probe of the (twin_id, time) index per reading, never a join over the table.
    IF p_readings @> '[{"device_signed": true}]' AND EXISTS (
        SELECT 1 FROM jsonb_to_recordset(p_readings) AS r(twin_id bigint, time timestamptz, device_signed bool,
             signature text)
        CROSS JOIN LATERAL (
            SELECT 1 FROM twins_reading x
            WHERE x.twin_id = r.twin_id AND x.time = r.time AND x.signature = r.signature LIMIT 1) AS found
        WHERE r.device_signed) THEN
        RAISE unique_violation USING MESSAGE = 'a device-signed reading of this message is stored already';
    END IF;
"""
assert _previous.SMALL.count(_AFTER_DELIVERY) == 1
SMALL = _previous.SMALL.replace(_AFTER_DELIVERY, _CHECK)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SMALL)


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_previous.SMALL)


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0010_restored_sources"),
    ]

    operations = [
        migrations.RunPython(create, restore),
    ]

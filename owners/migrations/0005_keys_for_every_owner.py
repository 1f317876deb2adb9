"""Keys for accounts that have none yet.

Keys used to be created on first use, by a GET of the keys page among others; now every new account gets them as
it is created (owners.keys.keys_for_new_owner) and the pages only read them. Accounts made before (in the admin,
by createsuperuser) and never used get theirs here, so no page meets an account without keys.
"""

from django.db import migrations

from core.vault import seal_key
from ssi.keys import SigningKey
from ssi.webvh import next_key_hash

ROLES = ("current", "next")


def create_missing_keys(apps, schema_editor):
    Owner = apps.get_model("owners", "Owner")
    OwnerKey = apps.get_model("owners", "OwnerKey")
    active = set(OwnerKey.objects.filter(retired_at__isnull=True).values_list("owner_id", "role"))
    for owner_id in Owner.objects.values_list("pk", flat=True).iterator():
        for role in ROLES:
            if (owner_id, role) in active:
                continue
            key = SigningKey.generate()
            OwnerKey.objects.create(
                owner_id=owner_id,
                role=role,
                public_multibase=key.multibase,
                next_key_hash=next_key_hash(key.multibase),
                sealed_seed=seal_key(key),
            )


class Migration(migrations.Migration):
    dependencies = [
        ("owners", "0004_agent_notification_kind"),
    ]

    operations = [
        migrations.RunPython(create_missing_keys, migrations.RunPython.noop),
    ]

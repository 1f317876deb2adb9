"""Outbound delivery: a claim lease per message (one worker sends it), and an index for the sweep of due retries."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("didcomm", "0003_connection_rotation"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundmessage",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(fields=["status", "next_attempt_at"], name="didcomm_outbound_due"),
        ),
    ]

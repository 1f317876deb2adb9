"""Agents: a connection, message or key now belongs to an agent (a twin's or an owner's) instead of a twin.

Existing rows move to their twin's agent, created here."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def to_agents(apps, schema_editor):
    Agent = apps.get_model("didcomm", "Agent")
    for model_name in ("Connection", "InboundMessage", "OutboundMessage", "RecipientKey"):
        model = apps.get_model("didcomm", model_name)
        for twin_id in model.objects.values_list("twin_id", flat=True).distinct():
            agent, _ = Agent.objects.get_or_create(twin_id=twin_id)
            model.objects.filter(twin_id=twin_id).update(agent=agent)


def to_twins(apps, schema_editor):
    for model_name in ("Connection", "InboundMessage", "OutboundMessage", "RecipientKey"):
        model = apps.get_model("didcomm", model_name)
        for row in model.objects.select_related("agent").exclude(agent__twin=None):
            model.objects.filter(pk=row.pk).update(twin_id=row.agent.twin_id)
        model.objects.filter(agent__twin=None).delete()


MODELS = ("connection", "inboundmessage", "outboundmessage", "recipientkey")
RELATED = {
    "connection": "connections",
    "inboundmessage": "inbound",
    "outboundmessage": "outbound",
    "recipientkey": "recipient_keys",
}


class Migration(migrations.Migration):
    dependencies = [
        ("didcomm", "0001_initial"),
        ("twins", "0004_device_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Agent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_sealed", models.BinaryField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "owner",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="agent",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "twin",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="agent",
                        to="twins.twin",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("owner__isnull", True), ("twin__isnull", False))
                        | models.Q(("owner__isnull", False), ("twin__isnull", True)),
                        name="didcomm_agent_twin_xor_owner",
                    )
                ],
            },
        ),
        *[
            migrations.AddField(
                model_name=name,
                name="agent",
                field=models.ForeignKey(
                    null=True,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name=RELATED[name],
                    to="didcomm.agent",
                ),
            )
            for name in MODELS
        ],
        migrations.RunPython(to_agents, to_twins),
        migrations.RemoveConstraint(model_name="inboundmessage", name="didcomm_inbound_once_unconnected"),
        *[migrations.RemoveField(model_name=name, name="twin") for name in MODELS],
        *[
            migrations.AlterField(
                model_name=name,
                name="agent",
                field=models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name=RELATED[name], to="didcomm.agent"
                ),
            )
            for name in MODELS
        ],
        migrations.AddConstraint(
            model_name="inboundmessage",
            constraint=models.UniqueConstraint(
                condition=models.Q(("connection__isnull", True)),
                fields=("agent", "sender_verkey", "message_id"),
                name="didcomm_inbound_once_unconnected",
            ),
        ),
        migrations.AddField(
            model_name="recipientkey",
            name="connection",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="recipient_keys",
                to="didcomm.connection",
            ),
        ),
        migrations.AddField(
            model_name="connection",
            name="role",
            field=models.CharField(
                choices=[("responder", "Responder"), ("requester", "Requester")], default="responder", max_length=16
            ),
        ),
        migrations.AddField(model_name="connection", name="protocol", field=models.CharField(blank=True, max_length=8)),
        migrations.AddField(
            model_name="connection", name="thread_id", field=models.CharField(blank=True, max_length=255)
        ),
        migrations.AddField(model_name="connection", name="my_did", field=models.CharField(blank=True, max_length=4096)),
        migrations.AddField(
            model_name="connection", name="my_key_sealed", field=models.BinaryField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="connection", name="their_routing_keys", field=models.JSONField(blank=True, default=list)
        ),
        migrations.AddField(model_name="connection", name="error", field=models.CharField(blank=True, max_length=500)),
        migrations.AddField(
            model_name="outboundmessage", name="attempts", field=models.PositiveSmallIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="outboundmessage", name="next_attempt_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="outboundmessage", name="sent_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="outboundmessage", name="last_error", field=models.CharField(blank=True, max_length=500)
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("didcomm", "0002_agents"),
    ]

    operations = [
        migrations.AddField(
            model_name="connection",
            name="next_key_sealed",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="connection",
            name="next_verkey",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="connection",
            name="next_did",
            field=models.CharField(blank=True, max_length=4096),
        ),
        migrations.AddField(
            model_name="connection",
            name="next_thread_id",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]

"""The owner's things that moved to another instance or are still arriving from one (twins.moving), found by a
partial index that holds only those rows: the list above the cards costs an index probe, not a walk through
every thing the owner has."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("twins", "0014_moves_and_serial_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="twin",
            index=models.Index(
                condition=models.Q(("arriving", True), models.Q(("moved_to", ""), _negated=True), _connector="OR"),
                fields=["owner"],
                name="twin_not_live_idx",
            ),
        ),
    ]

from django.db import migrations, models

# PositiveIntegerField's largest value on every database: past any row of a file.
EVERY_ROW = 2_147_483_647


def mark_finished_dry_runs(apps, schema_editor):
    """tag_codes_until_row None meant "every row's" and now means "the dry run did not finish: none". A run not yet
    applied whose dry run finished with the budget to spare keeps every row's codes; one whose dry run crashed (it
    counted no rows: the counts are saved only when it finishes) keeps none."""
    ImportRun = apps.get_model("imports", "ImportRun")
    waiting = ImportRun.objects.filter(status__in=["checked", "queued", "running"], tag_codes_until_row__isnull=True)
    waiting.filter(rows__gt=0).update(tag_codes_until_row=EVERY_ROW)


class Migration(migrations.Migration):
    dependencies = [
        ("imports", "0003_tag_code_budget"),
    ]

    operations = [
        migrations.AlterField(
            model_name="importrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("checking", "Checking"),
                    ("refused", "Refused"),
                    ("checked", "Checked"),
                    ("queued", "Queued"),
                    ("running", "Importing"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                ],
                default="checking",
                max_length=16,
            ),
        ),
        migrations.RunPython(mark_finished_dry_runs, migrations.RunPython.noop),
    ]

from typing import Any

from django.db import migrations, models


def count_existing(apps: Any, schema_editor: Any) -> None:
    """The tallies start from what the ledger already holds."""
    Tally, Vote, Decision = (apps.get_model("consensus", name) for name in ("Tally", "Vote", "Decision"))
    counts = {
        "votes_approve": Vote.objects.filter(approve=True).count(),
        "votes_reject": Vote.objects.filter(approve=False).count(),
        "rounds_committed": Decision.objects.filter(committed=True).count(),
        "rounds_failed": Decision.objects.filter(committed=False).count(),
    }
    Tally.objects.bulk_create([Tally(name=name, count=count) for name, count in counts.items()])


class Migration(migrations.Migration):
    dependencies = [
        ("consensus", "0002_open_rounds"),
    ]

    operations = [
        migrations.CreateModel(
            name="Tally",
            fields=[
                ("name", models.CharField(max_length=32, primary_key=True, serialize=False)),
                ("count", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
        migrations.AddField(
            model_name="decision",
            name="confirmed_by",
            field=models.JSONField(blank=True, default=list, help_text="nodes that ended the round with model_hash"),
        ),
        migrations.AddField(
            model_name="decision",
            name="diverged",
            field=models.JSONField(
                blank=True, default=dict, help_text="nodes that ended it with another model: their hash"
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(fields=["-created_at"], name="decision_newest_first"),
        ),
    ]

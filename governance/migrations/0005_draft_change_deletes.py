"""`DraftChange.delete` shadowed Model.delete(): renamed `deletes`."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0004_initial_rule_versions"),
    ]

    operations = [
        migrations.RenameField(model_name="draftchange", old_name="delete", new_name="deletes"),
        migrations.AlterField(
            model_name="draftchange",
            name="deletes",
            field=models.BooleanField(default=False, help_text="The draft deletes the row."),
        ),
    ]

"""Every governed row that exists when versioning begins gets an initial django-reversion
version (one revision, "Initial version"), so its history starts from what was live, not from
its first change. Uses the historical models; safe to re-run (rows with a version are skipped)."""

from django.core import serializers
from django.db import migrations
from django.utils import timezone

GOVERNED = [
    ("journeys", "HandoffRule"),
    ("governance", "HandoffRuleSla"),
    ("governance", "SlaPolicy"),
    ("governance", "BusinessCalendar"),
    ("governance", "OpeningPeriod"),
    ("governance", "Holiday"),
    ("governance", "TeamHours"),
    ("governance", "FrequencyCap"),
    ("governance", "QuietHours"),
    ("governance", "ToneRule"),
]
COMMENT = "Initial version, recorded when versioning began"


def record_initial_versions(apps, schema_editor):
    db = schema_editor.connection.alias
    Revision = apps.get_model("reversion", "Revision")
    Version = apps.get_model("reversion", "Version")
    ContentType = apps.get_model("contenttypes", "ContentType")
    revision = None
    for app_label, name in GOVERNED:
        model = apps.get_model(app_label, name)
        content_type = ContentType.objects.db_manager(db).get_for_model(model)
        versioned = set(
            Version.objects.using(db)
            .filter(content_type=content_type)
            .values_list("object_id", flat=True)
        )
        rows = [
            row
            for row in model._base_manager.using(db).order_by("pk")
            if str(row.pk) not in versioned
        ]
        if not rows:
            continue
        if revision is None:
            revision = Revision.objects.using(db).create(
                date_created=timezone.now(), comment=COMMENT
            )
        Version.objects.using(db).bulk_create(
            Version(
                revision=revision,
                object_id=str(row.pk),
                content_type=content_type,
                db=db,
                format="json",
                serialized_data=serializers.serialize("json", [row]),
                object_repr=str(getattr(row, "name", "") or f"{name} #{row.pk}")[:191],
            )
            for row in rows
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("journeys", "0006_playbook_and_contact_persona"),
        ("governance", "0003_rule_versions_drafts_audit"),
        ("reversion", "0002_add_index_on_version_for_content_type_and_db"),
    ]

    operations = [migrations.RunPython(record_initial_versions, migrations.RunPython.noop)]

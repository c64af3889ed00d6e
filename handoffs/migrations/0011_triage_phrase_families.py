"""The triage phrase families (docs/triage.md, "Phrases are patterns"): a database loaded by
0008 before them gains the new defaults; every row ops added or edited is kept. Three old
literal phrases now match inflections too ("my invoice" would catch the FAQ question "how do I
download my invoices"), so they are switched off, not deleted."""

from django.db import migrations

from handoffs.triage import defaults

RETIRED = ["my invoice", "my bill", "my refund"]


def load(apps, schema_editor):
    TriagePhrase = apps.get_model("handoffs", "TriagePhrase")
    for kind, phrase, whole in defaults.PHRASES:
        TriagePhrase.objects.get_or_create(kind=kind, phrase=phrase, whole_message=whole)
    TriagePhrase.objects.filter(kind="specialist", whole_message=False, phrase__in=RETIRED).update(
        enabled=False
    )


class Migration(migrations.Migration):
    dependencies = [("handoffs", "0010_handoff_sla_clock")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]

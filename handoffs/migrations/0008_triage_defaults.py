"""The default triage phrases and the settings row (docs/triage.md). Ops edit both in admin;
the lists live in handoffs/triage/defaults.py, which code also falls back to when the phrase
table is empty."""

from django.db import migrations

from handoffs.triage import defaults


def load(apps, schema_editor):
    TriagePhrase = apps.get_model("handoffs", "TriagePhrase")
    TriageSettings = apps.get_model("handoffs", "TriageSettings")
    for kind, phrase, whole in defaults.PHRASES:
        TriagePhrase.objects.get_or_create(kind=kind, phrase=phrase, whole_message=whole)
    TriageSettings.objects.get_or_create(pk=1)


def unload(apps, schema_editor):
    apps.get_model("handoffs", "TriagePhrase").objects.all().delete()
    apps.get_model("handoffs", "TriageSettings").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("handoffs", "0007_message_triage_faq_phrases_settings")]

    operations = [migrations.RunPython(load, unload)]

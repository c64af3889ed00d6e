"""The six hybrid-journey capabilities of PRODUCT.md with a starting KPI and thresholds (ops
tune them in admin), and the rollups' refresh state row."""

from django.db import migrations

# key, name, owner, ad hoc, operationalised, KPI, thresholds (developing … operationalised)
CAPABILITIES = [
    (
        "journey-mapping",
        "Journey mapping",
        "CX / RevOps",
        "Channel campaigns, unclear handoffs",
        "Documented Loop journeys with hybrid steps",
        "drop_off_rate",
        (40, 30, 20, 10),
    ),
    (
        "signal-routing",
        "Signal & routing design",
        "Marketing / Sales Ops",
        "Manual triage in inboxes",
        "Automated routing with owners and SLAs",
        "speed_to_lead_median",
        (1440, 240, 60, 15),
    ),
    (
        "human-touchpoints",
        "Human-in-the-loop touchpoints",
        "Sales / Success",
        "Random outreach on top of nurtures",
        "Planned human moments triggered by signals",
        "meeting_rate",
        (5, 10, 20, 30),
    ),
    (
        "automation-quality",
        "Automation quality",
        "Marketing Ops",
        "One-size sequences",
        "Context-aware automation by role, stage, account",
        "reply_rate",
        (5, 10, 20, 30),
    ),
    (
        "ai-agents",
        "AI and agents",
        "Analytics / RevOps",
        "Unscoped chatbots",
        "AI that prepares, summarises, recommends; humans decide",
        "handback_rate",
        (10, 25, 40, 60),
    ),
    (
        "governance",
        "Governance",
        "Revenue leadership",
        "Inconsistent rules",
        "Shared standards for frequency, tone, handoffs",
        "sla_adherence",
        (60, 75, 85, 95),
    ),
]


def seed(apps, schema_editor):
    Capability = apps.get_model("dashboard", "Capability")
    RefreshState = apps.get_model("dashboard", "RefreshState")
    for order, (key, name, owner, ad_hoc, done, kpi, levels) in enumerate(CAPABILITIES, 1):
        Capability.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "order": order,
                "owner": owner,
                "ad_hoc": ad_hoc,
                "operationalised": done,
                "kpi": kpi,
                "developing_at": levels[0],
                "defined_at": levels[1],
                "managed_at": levels[2],
                "operationalised_at": levels[3],
            },
        )
    RefreshState.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_rollups_and_capabilities")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

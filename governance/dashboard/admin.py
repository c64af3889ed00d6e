"""Ops edit the maturity capabilities here: owner, the KPI each is rated on and the thresholds
between the levels. The rollups are derived data and have no admin."""

from __future__ import annotations

from django.contrib import admin

from governance.dashboard.models import Capability


@admin.register(Capability)
class CapabilityAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "kpi",
        "developing_at",
        "defined_at",
        "managed_at",
        "operationalised_at",
    ]
    list_editable = ["owner", "kpi"]
    readonly_fields = ["key", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "key", "owner", "ad_hoc", "operationalised"]}),
        (
            "Rating",
            {
                "fields": [
                    "kpi",
                    "developing_at",
                    "defined_at",
                    "managed_at",
                    "operationalised_at",
                ],
                "description": "The level is the highest whose threshold the KPI reaches over "
                "the dashboard's period: at or above it for KPIs where higher is better, at or "
                "below it for durations, drop-off and stops. Below Developing's: Ad hoc.",
            },
        ),
        (None, {"fields": ["updated_at"]}),
    ]

    def has_add_permission(self, request: object) -> bool:
        return False  # the six capabilities are PRODUCT.md's; ops tune them, never add

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False

"""Governance in Django admin: SLA policies, calendars and team hours (governance/sla_admin.py)."""

from governance import sla_admin  # noqa: F401  (SLA policies, calendars, team hours)

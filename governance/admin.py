"""Governance in Django admin. Caps, quiet hours, tone rules, touch decisions and approvals are
registered in governance/policies/admin.py; SLA policies, calendars and team hours in
governance/sla_admin.py."""

from governance import sla_admin  # noqa: F401  (SLA policies, calendars, team hours)
from governance.policies import admin as policies_admin  # noqa: F401  (registers its models)

"""What each role may do on a team: PRODUCT.md's role table as data. Pure: no ORM.

Membership is the source of truth; `portal.services.membership_sync` turns these into per-team
guardian permissions, and every check reads those permissions."""

from __future__ import annotations

from portal.choices import Role

VIEW_INBOX = "view_team_inbox"  # see the team's handoffs and contacts
WORK_HANDOFFS = "work_team_handoffs"  # claim, reply, resolve
MANAGE_HANDOFFS = "manage_team_handoffs"  # reassign, release others' handoffs
VIEW_DASHBOARD = "view_team_dashboard"
VIEW_RULES = "view_team_rules"
EDIT_RULES = "edit_team_rules"

TEAM_PERMISSIONS: tuple[tuple[str, str], ...] = (
    (VIEW_INBOX, "See the team's inbox and contacts"),
    (WORK_HANDOFFS, "Claim, reply to and resolve the team's handoffs"),
    (MANAGE_HANDOFFS, "Reassign and release the team's handoffs"),
    (VIEW_DASHBOARD, "See the team's governance dashboard"),
    (VIEW_RULES, "Read the team's rules and policies"),
    (EDIT_RULES, "Edit the team's rules and policies"),
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.REP: frozenset({VIEW_INBOX, WORK_HANDOFFS, VIEW_DASHBOARD}),
    Role.CSM: frozenset({VIEW_INBOX, WORK_HANDOFFS, VIEW_DASHBOARD}),
    Role.LEAD: frozenset({VIEW_INBOX, WORK_HANDOFFS, MANAGE_HANDOFFS, VIEW_DASHBOARD, VIEW_RULES}),
    Role.DIRECTOR: frozenset(
        {VIEW_INBOX, WORK_HANDOFFS, MANAGE_HANDOFFS, VIEW_DASHBOARD, VIEW_RULES}
    ),
    Role.LEADER: frozenset({VIEW_INBOX, VIEW_DASHBOARD, VIEW_RULES}),
    Role.OPS: frozenset({VIEW_INBOX, VIEW_DASHBOARD, VIEW_RULES, EDIT_RULES}),
}

# Roles that work an inbox all day land on /inbox/; the rest have another home.
INBOX_ROLES = frozenset({Role.REP, Role.CSM, Role.LEAD, Role.DIRECTOR})


def permissions_for_roles(roles: set[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)

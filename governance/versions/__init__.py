"""Versioned rules: every change to a handoff rule, SLA policy, calendar, team hours, cap, quiet
hours or tone rule is recorded (who, when, why, field by field), drafts hold changes that are
not live until published, and any recorded change can be rolled back (docs/governance.md,
"Versions, drafts and roll back"). django-reversion keeps each object's stored versions; the
audit entries here add the before/after snapshots a person reads and a roll back restores."""

"""Every write to a governed rule goes through here, so each one is an audit entry: an admin save
or delete (`recording`, wrapped around the admin's own view), a draft's changes (drafted, then
published in one transaction), and a roll back of any entry. Each entry is also a
django-reversion revision of the objects it left behind."""

from governance.versions.services.drafts import (
    draft_change_remove,
    draft_change_save,
    draft_create,
    draft_discard,
    draft_publish,
    stale_problems,
)
from governance.versions.services.recording import (
    Recorder,
    can_edit_team,
    person,
    recording,
)
from governance.versions.services.rollback import rollback_problems, version_rollback

__all__ = [
    "Recorder",
    "can_edit_team",
    "draft_change_remove",
    "draft_change_save",
    "draft_create",
    "draft_discard",
    "draft_publish",
    "person",
    "recording",
    "rollback_problems",
    "stale_problems",
    "version_rollback",
]

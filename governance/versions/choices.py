from django.db import models


class DraftStatus(models.TextChoices):
    OPEN = "open", "Open"
    PUBLISHED = "published", "Published"
    DISCARDED = "discarded", "Discarded"


class EntryAction(models.TextChoices):
    """What made an audit entry."""

    SAVED = "saved", "Saved in admin"
    DELETED = "deleted", "Deleted in admin"
    PUBLISHED = "published", "Published a draft"
    ROLLED_BACK = "rolled_back", "Rolled back"


class ChangeKind(models.TextChoices):
    """What happened to one object in an entry."""

    CREATED = "created", "Added"
    CHANGED = "changed", "Changed"
    DELETED = "deleted", "Deleted"

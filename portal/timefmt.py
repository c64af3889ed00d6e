from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, the way the API prints every instant."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")

from __future__ import annotations

from datetime import datetime, timedelta


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, the way the API prints every instant."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def duration_label(value: timedelta | None) -> str:
    """A length of time as a person reads it: "40 s", "12 min", "3 h 20 min", "2 d 4 h"."""
    if value is None:
        return "—"
    seconds = max(0, int(value.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"

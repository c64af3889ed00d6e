"""The reporting period a page shows ("last 30 days", or a from–to range of dates), read from the
query string. Pages that report figures over time (journey maps, the governance dashboard) share
it so a period means the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.http import QueryDict
from django.utils import timezone

PRESETS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT = "30d"
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    key: str  # a preset key, or "custom"
    label: str

    @property
    def start_date(self) -> date:
        return timezone.localtime(self.since).date()

    @property
    def end_date(self) -> date:
        return timezone.localtime(self.until - timedelta(microseconds=1)).date()


def period_parse(query: QueryDict, now: datetime | None = None) -> tuple[Period, str | None]:
    """The period asked for, and an error to show when the request made no sense (the default
    period is used then). `?period=7d|30d|90d|365d`, or `?from=YYYY-MM-DD&to=YYYY-MM-DD`
    (whole days, both included, in the site's time zone)."""
    now = now or timezone.now()
    if query.get("from") or query.get("to"):
        try:
            start = date.fromisoformat(query.get("from", "")[:10])
            end = date.fromisoformat(query.get("to", "")[:10])
        except ValueError:
            return _preset(DEFAULT, now), "Dates must be given as YYYY-MM-DD, both from and to."
        if end < start:
            return _preset(DEFAULT, now), "The period must end on or after the day it starts."
        if (end - start).days >= MAX_DAYS:
            return _preset(DEFAULT, now), f"A period can be at most {MAX_DAYS} days long."
        zone = timezone.get_current_timezone()
        since = datetime.combine(start, time.min, tzinfo=zone)
        until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
        label = f"{start:%-d %b %Y} – {end:%-d %b %Y}"
        return Period(since, until, "custom", label), None
    key = query.get("period", DEFAULT)
    if key not in PRESETS:
        return _preset(DEFAULT, now), f"Unknown period {key[:20]!r}: showing the last 30 days."
    return _preset(key, now), None


def _preset(key: str, now: datetime) -> Period:
    days = PRESETS[key]
    return Period(now - timedelta(days=days), now, key, f"Last {days} days")

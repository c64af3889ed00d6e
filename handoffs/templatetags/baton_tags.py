from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def instant(value: str | None) -> datetime | None:
    """An ISO 8601 string from JSON (evidence, payloads) as a datetime for the `date` filter."""
    return parse_datetime(value) if value else None

"""Formatting for the dashboard's numbers: shares, durations, freshness."""

from __future__ import annotations

from datetime import timedelta

from django import template

from portal.timefmt import duration_label

register = template.Library()


@register.filter
def pct(value: float | None, digits: int = 0) -> str:
    """0.834 → "83%"; None (nothing to divide by) → "—"."""
    if value is None:
        return "—"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def dur(value: timedelta | None) -> str:
    return duration_label(value)


@register.filter
def ago(seconds: int | None) -> str:
    if seconds is None:
        return "not computed yet"
    if seconds < 60:
        return f"updated {seconds} s ago"
    if seconds < 3600:
        return f"updated {seconds // 60} min ago"
    return f"updated {duration_label(timedelta(seconds=seconds))} ago"


@register.filter
def bar(value: float | None, width: int = 100) -> float:
    """A share as a bar length out of `width` (SVG units)."""
    if value is None:
        return 0
    return round(max(0.0, min(1.0, value)) * int(width), 1)


@register.filter
def dictget(mapping: dict | None, key: str) -> object:
    return (mapping or {}).get(key)

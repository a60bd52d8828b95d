"""Formatting of supervisor figures: durations as clock times, shares as percentages."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()

# An en dash, as the other pages show a missing value.
NO_VALUE = "\u2013"


@register.filter
def clock(seconds: float | None) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on; an en dash for no value."""
    if seconds is None:
        return NO_VALUE
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


@register.filter
def percent(share: float | None) -> str:
    """A share (0 to 1) as a whole percentage in the page's number format."""
    if share is None:
        return NO_VALUE
    return f"{floatformat(share * 100, 0)}%"


@register.filter
def rating(value: float | None) -> str:
    """An average rating with one decimal in the page's number format."""
    if value is None:
        return NO_VALUE
    return str(floatformat(value, 1))

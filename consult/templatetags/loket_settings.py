"""Loket's settings in templates, so a text that states a limit takes it from settings.LOKET."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def loket_setting(name: str) -> Any:
    """``settings.LOKET[name]``; used as ``{% loket_setting "MAX_TEXT" as max_text %}``."""
    return settings.LOKET[name]

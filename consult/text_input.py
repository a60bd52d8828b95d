"""Which text Loket accepts from a person, wherever it comes in (HTTP, WebSocket frames).

PostgreSQL cannot store NUL in text, and an unpaired surrogate (JSON allows ``"\\ud800"``) cannot
be encoded as UTF-8 at all: either one used to reach the database and fail there. They are
refused at the door instead, with ``invalid_text``. A name must also show something: one made
only of spaces, zero-width or other invisible characters is no name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .errors import InvalidText

# NUL, and the surrogate code points, which a str holds only when it was decoded leniently.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Control characters have no place in a one-line value (a name); tabs and newlines included.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Letters, marks, numbers, punctuation and symbols can be seen; separators (Z*) and the other
# categories (controls, format characters such as U+200B ZERO WIDTH SPACE, unassigned) cannot.
_VISIBLE_CATEGORIES = frozenset("LNPS")


def text_storable(value: str) -> bool:
    """Whether ``value`` can be stored and sent as UTF-8: no NUL, no unpaired surrogate."""
    return _UNSTORABLE.search(value) is None


def text_check(value: str, *, field: str) -> str:
    """``value`` if it is storable, else InvalidText naming ``field``."""
    if not text_storable(value):
        raise InvalidText(field)
    return value


def line_check(value: str, *, field: str) -> str:
    """A one-line value (a name): storable and without control characters."""
    if _CONTROL.search(value) or not text_storable(value):
        raise InvalidText(field)
    return value


def text_visible(value: str) -> bool:
    """Whether ``value`` has at least one character a reader can see."""
    return any(unicodedata.category(char)[0] in _VISIBLE_CATEGORIES for char in value)


def json_texts_check(data: Any, *, field: str = "body") -> None:
    """Every string (keys too) of a parsed JSON value must be storable; InvalidText names the
    first field that is not."""
    if isinstance(data, str):
        text_check(data, field=field)
    elif isinstance(data, dict):
        for key, value in data.items():
            name = key[:40] if text_storable(key) else "a key"
            text_check(key, field=name)
            json_texts_check(value, field=name)
    elif isinstance(data, list):
        for value in data:
            json_texts_check(value, field=field)

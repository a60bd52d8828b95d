"""What each role sees of personal identifiers in each output (docs/RECORDS.md, "Personal
data"): the masking policy, applied to transcript texts and to the applicant's contact
details."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from django.conf import settings

from ..models import MaskAction, MaskingRule, MaskOutput, MaskRole
from ..records import masking

# The kinds the policy names: the identifiers found in texts, and the applicant's name (a field,
# never searched for in texts).
KINDS = (*masking.KINDS, "name")

# Without a rule: the applicant reads their own copy whole; the counselor sees in the live
# console what the applicant wrote to them; everywhere else an identifier is masked, and hidden
# in exports.
_DEFAULT: dict[tuple[str, str], str] = {
    (MaskRole.APPLICANT, MaskOutput.OWN_COPY): MaskAction.SHOW,
    (MaskRole.COUNSELOR, MaskOutput.LIVE): MaskAction.SHOW,
}


def default_action(role: str, output: str) -> str:
    if output == MaskOutput.EXPORT:
        return str(MaskAction.HIDE)
    return str(_DEFAULT.get((role, output), MaskAction.MASK))


def policy(role: str, output: str) -> dict[str, masking.Action]:
    """The action for each kind, for ``role`` in ``output``: the administrator's rules
    (``MaskingRule``), else the default."""
    actions: dict[str, masking.Action] = {
        kind: default_action(role, output)  # type: ignore[misc]
        for kind in KINDS
    }
    for kind, action in MaskingRule.objects.filter(role=role, output=output).values_list(
        "kind", "action"
    ):
        if action in MaskAction.values:
            actions[kind] = action  # type: ignore[assignment]
    return actions


def live_policy(role: str) -> dict[str, masking.Action] | None:
    """The live console's policy for ``role``, or None when it shows every kind (nothing to
    do per frame)."""
    actions = policy(role, MaskOutput.LIVE)
    if all(action == MaskAction.SHOW for action in actions.values()):
        return None
    return actions


def masked_text(text: str, actions: Mapping[str, masking.Action]) -> str:
    """``text`` with each identifier shown, masked or hidden as ``actions`` say."""
    if all(action == MaskAction.SHOW for action in actions.values()):
        return text
    return masking.apply(text, actions)


def masked_name(name: str, action: str) -> str:
    """The applicant's name as the policy shows it: whole, each word's first letter
    ("A*** W***"), or not at all."""
    if action == MaskAction.SHOW or not name:
        return name
    if action == MaskAction.HIDE:
        return "[NAME]"
    return " ".join(word[0] + "*" * 3 for word in name.split() if word)


def masked_contact(value: str, kind: str, action: str) -> str:
    """A phone number or e-mail address field as the policy shows it."""
    if action == MaskAction.SHOW or not value:
        return value
    if action == MaskAction.HIDE:
        return f"[{kind.upper()}]"
    found = masking.find(value, [kind])
    return masking.mask_value(kind, found[0].normalized) if found else "*" * 6


def search_key() -> bytes:
    """The key of the search tokens (``masking.search_tokens``), derived from the instance's
    secret key: tokens made with another secret match nothing."""
    return hashlib.sha256(b"loket.search-token\x00" + settings.SECRET_KEY.encode()).digest()


def query_tokens(text: str) -> set[str]:
    """The search tokens of the identifiers a search query holds."""
    return masking.search_tokens(text, search_key())

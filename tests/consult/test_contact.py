"""Contact details as joining the queue and offline questions both check them."""

from __future__ import annotations

import pytest

from consult.contact import contact_clean
from consult.errors import InvalidInput


def test_values_are_trimmed_and_the_phone_loses_its_punctuation() -> None:
    cleaned = contact_clean(
        name="  Ani  ", phone="+62 (812) 3456-7890", email=" ani@example.id ", email_required=False
    )
    assert cleaned == ("Ani", "+6281234567890", "ani@example.id")
    assert contact_clean(name="Ani", phone="", email="a@b.id", email_required=True) == (
        "Ani",
        "",
        "a@b.id",
    )


@pytest.mark.parametrize(
    ("name", "phone", "email", "email_required", "message"),
    [
        (" ", "081234567890", "", False, "name must be 1 to 80 characters."),
        ("x" * 81, "081234567890", "", False, "name must be 1 to 80 characters."),
        ("Ani", "12ab", "", False, "phone must be 8 to 15 digits, optionally starting with +."),
        ("Ani", "1234567", "", False, "phone must be 8 to 15 digits, optionally starting with +."),
        ("Ani", "", "ani@", False, "email is not a valid e-mail address."),
        ("Ani", "", "", False, "Give a phone number or an e-mail address."),
        ("Ani", "081234567890", " ", True, "email is needed: the answer is sent by e-mail."),
        ("Ani", "", "not-an-address", True, "email is not a valid e-mail address."),
    ],
)
def test_wrong_values_are_refused_with_what_is_wrong(
    name: str, phone: str, email: str, email_required: bool, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        contact_clean(name=name, phone=phone, email=email, email_required=email_required)
    assert (refused.value.code, refused.value.message) == ("invalid_input", message)

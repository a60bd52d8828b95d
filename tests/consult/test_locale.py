"""Indonesian by default, whatever the browser asks for; English when the person chooses it."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_indonesian_even_when_the_browser_prefers_english() -> None:
    response = Client().get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "id"
    assert '<html lang="id"' in response.content.decode()


def test_english_once_chosen_and_back() -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    response = client.get("/")
    assert response["Content-Language"] == "en"
    client.post("/i18n/setlang/", {"language": "id", "next": "/"})
    assert client.get("/")["Content-Language"] == "id"


def test_an_unknown_language_cookie_falls_back_to_indonesian() -> None:
    client = Client()
    client.cookies["django_language"] = "fr"
    assert client.get("/")["Content-Language"] == "id"

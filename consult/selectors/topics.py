"""Reads of topics: those applicants may join, every topic for the staff pages' filters and
names."""

from __future__ import annotations

from ..errors import NotFound
from ..models import Topic


def topic_active_get(*, code: str) -> Topic:
    """The active topic with this code (applicants may join it), or NotFound."""
    topic = Topic.objects.filter(code=code, active=True).first()
    if topic is None:
        raise NotFound("No such topic.")
    return topic


def topics_active() -> list[Topic]:
    """Topics applicants may join, in display order."""
    return list(Topic.objects.filter(active=True).order_by("order", "code"))


def topics_all() -> list[Topic]:
    """Every topic, active or not, in display order (a search filter: closed consultations may
    be of a topic no longer offered)."""
    return list(Topic.objects.order_by("order", "code"))


def topic_names(*, language: str) -> dict[str, str]:
    """Every topic's name by code, active or not: events name topics by code (a transfer's
    target), the pages show their names."""
    return {topic.code: topic.name_for(language) for topic in Topic.objects.all()}

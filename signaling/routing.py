"""URL routing and the ASGI stack for WebSockets."""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from consult import runtime

from .consumers.applicant import ApplicantConsumer
from .consumers.staff import StaffConsumer
from .origin import SiteOriginValidator

websocket_urlpatterns = [
    path("ws/applicant/", ApplicantConsumer.as_asgi()),
    path("ws/staff/", StaffConsumer.as_asgi()),
]


def build_application(http_app: Any) -> ProtocolTypeRouter:
    """HTTP to Django; WebSockets through the origin check (signaling/origin.py) and session
    auth to the consumers; ASGI lifespan to the process start-up (consult/runtime.py)."""
    return ProtocolTypeRouter(
        {
            "http": http_app,
            "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
            # Process start-up and shutdown under a server that sends ASGI lifespan events
            # (Daphne does not: consult/runtime.py starts it from the reactor instead).
            "lifespan": runtime.lifespan,
        }
    )

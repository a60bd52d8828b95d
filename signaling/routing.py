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

# Only the staff socket carries a Django session (the login cookie): the applicant's is
# authenticated by its consultation token in its first frame and never reads a staff session,
# nor pays the session wrapper on every frame it is sent (about 15 % of the loop's time in a
# queue fan-out).
websocket_urlpatterns = [
    path("ws/applicant/", ApplicantConsumer.as_asgi()),
    path("ws/staff/", AuthMiddlewareStack(StaffConsumer.as_asgi())),
]


def build_application(http_app: Any) -> ProtocolTypeRouter:
    """HTTP to Django; WebSockets through the origin check (signaling/origin.py) to the
    consumers, the staff socket's through session auth; ASGI lifespan to the process start-up
    (consult/runtime.py)."""
    return ProtocolTypeRouter(
        {
            "http": http_app,
            "websocket": SiteOriginValidator(URLRouter(websocket_urlpatterns)),
            # Process start-up and shutdown under a server that sends ASGI lifespan events
            # (Daphne does not: consult/runtime.py starts it from the reactor instead).
            "lifespan": runtime.lifespan,
        }
    )

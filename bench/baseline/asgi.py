"""ASGI entry point of the BASELINE relay.

Run from the repo root: ``daphne -b 127.0.0.1 -p 8766 bench.baseline.asgi:application``
WebSocket URL: ``ws://127.0.0.1:8766/ws/relay/<room>/``
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline.settings")

import django

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.baseline.consumers import RelayConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "websocket": URLRouter([path("ws/relay/<str:room>/", RelayConsumer.as_asgi())]),
    }
)

"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()
except ImproperlyConfigured as exc:
    sys.stderr.write(f"Loket configuration error: {exc}\n")
    sys.exit(2)

from signaling.routing import build_application

application = build_application(django_asgi_app)

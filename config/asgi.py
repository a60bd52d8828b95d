"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    # `make run` starts the daphne binary, which serves no static files of its own: without this
    # the pages' CSS and JS would 404. Requests outside STATIC_URL pass straight through.
    django_asgi_app = ASGIStaticFilesHandler(get_asgi_application())
except ImproperlyConfigured as exc:
    sys.stderr.write(f"Loket configuration error: {exc}\n")
    sys.exit(2)

from django.conf import settings

from consult import runtime
from signaling.routing import build_application

application = build_application(django_asgi_app)
if "daphne.cli" in sys.modules:
    # Started by the ``daphne`` command, which builds its server after loading this module:
    # Loket's, whose periodic checks do not walk every connection at once.
    from signaling.daphne_server import install

    install()
# Process start-up (sweeper, pre-call shutdown hook), once the server runs: consult/runtime.py.
runtime.serve(ready_message=settings.LOKET["READY_MESSAGE"])

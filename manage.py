#!/usr/bin/env python
"""Django's command-line utility for Loket."""

import os
import sys


def main() -> None:
    """Run administrative tasks; a wrong setting is reported in one line, not a traceback."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018  (forces the settings to load here)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"Loket configuration error: {exc}\n")
        sys.exit(2)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

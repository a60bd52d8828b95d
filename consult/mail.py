"""The default e-mail backend: keep each message as a file only the server's user can read.

Django's console backend, the usual development default, prints every message into the server
log, and the answer to an offline question holds the applicant's name, address and question. This
one writes messages to ``EMAIL_FILE_PATH`` (default ``var/mail``, mode 0700, files 0600) and logs
only that a message was kept there. Production sets ``EMAIL_BACKEND`` to the SMTP backend.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from django.core.mail.backends.filebased import EmailBackend
from django.core.mail.message import EmailMessage

log = logging.getLogger(__name__)


class PrivateFileBackend(EmailBackend):
    """Django's file backend in a private directory, with a log line that names no one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # django-stubs types this class as the console backend, without the file attributes.
        self._backend = cast(Any, self)
        os.chmod(self._backend.file_path, 0o700)

    def open(self) -> bool:
        """Open this connection's file, readable by the server's user only."""
        if self._backend.stream is None:
            name = self._backend._get_filename()
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._backend.stream = os.fdopen(fd, "ab")
            return True
        return False

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Write the messages; log how many, and where, only."""
        sent = int(super().send_messages(email_messages) or 0)
        if sent:
            log.info("%d e-mail message(s) kept in %s", sent, Path(self._backend.file_path).name)
        return sent

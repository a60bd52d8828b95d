"""The office's Ed25519 signing key (docs/RECORDS.md, "Keys").

The private key is a PKCS#8 PEM file (``LOKET_SIGNING_KEY_FILE``, by default
``$LOKET_DATA_DIR/signing-key.pem``), created on first use with mode 0600 if it does not exist.
Several processes of one instance may start at once: the file is created under an exclusive
name and linked into place, so exactly one key wins and every process reads that one. A process
re-reads the file when it changes (``manage.py signing_key --rotate`` replaces it), so a
rotation reaches running processes without a restart.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from .loket_verify import key_id as key_id_of
from .loket_verify import note_key_hash


@dataclass(frozen=True)
class OfficeKey:
    """The current signing key, with what statements and checkpoints name it by."""

    private: Ed25519PrivateKey
    public: bytes  # the 32 raw bytes
    key_id: str

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public).decode()

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    def note_signature_line(self, name: str, body: bytes) -> str:
        """The C2SP signed-note signature line for ``body`` under ``name``."""
        blob = note_key_hash(name, self.public) + self.sign(body)
        return f"\u2014 {name} {base64.b64encode(blob).decode()}\n"


_lock = threading.Lock()
_cached: tuple[str, tuple[int, int], OfficeKey] | None = None


def key_path() -> Path:
    return Path(settings.LOKET["SIGNING_KEY_FILE"])


def _pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_new_key(path: Path, *, replace: bool) -> None:
    """Write a new key to ``path``: only if none is there (``replace`` False: another process
    may win, and its key is kept), or in place of the one there (rotation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, _pem(Ed25519PrivateKey.generate()))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(fresh, path)
        else:
            # Another process may have made the key first: its key is kept.
            with contextlib.suppress(FileExistsError):
                os.link(fresh, path)
    finally:
        fresh.unlink(missing_ok=True)


def _load(path: Path) -> OfficeKey:
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path.name} is not an Ed25519 private key")
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return OfficeKey(private=private, public=public, key_id=key_id_of(public))


def office_key() -> OfficeKey:
    """The current signing key, created on first use."""
    global _cached
    path = key_path()
    with _lock:
        try:
            stat = path.stat()
        except FileNotFoundError:
            write_new_key(path, replace=False)
            stat = path.stat()
        # A rotation replaces the file (a new inode), whatever the clock's resolution.
        seen = (stat.st_ino, stat.st_mtime_ns)
        if _cached is None or _cached[0] != str(path) or _cached[1] != seen:
            _cached = (str(path), seen, _load(path))
        return _cached[2]

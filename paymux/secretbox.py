"""Secrets at rest: AES-256-GCM under the deployment's master key, and the key's rotation.

Merchant secrets must be recoverable (HMAC needs the secret itself), so they
are encrypted rather than hashed. The master key comes from
`PAYMUX_MASTER_KEY` (with `PAYMUX_MASTER_KEY_PREVIOUS` during a rotation) or
from a key file (`PAYMUX_MASTER_KEY_FILE`, default `<data dir>/master.key`).

A key file holds one key per line: the first seals, every line opens. That is
what makes a rotation online-safe: `paymux secrets rotate-master-key` puts a
new key in front of the old one, every process picks the file up again within
a second (`RELOAD_S`), and only then is everything re-sealed under the new key;
a value sealed under either key opens throughout.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"
_AAD = b"paymux-secret"
RELOAD_S = 1.0


def new_master_key() -> str:
    return secrets.token_urlsafe(32)


def key_id(master_key: str) -> str:
    """A fingerprint naming a master key (in backups, on screen) without revealing it."""
    return hashlib.sha256(b"paymux-master-key-id:" + master_key.encode()).hexdigest()[:16]


def read_key_file(path: Path) -> list[str]:
    """The keys of a key file, current first; a missing file is created with a new key (0600)."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # made by a process starting alongside
            write_key_file(path, [new_master_key()], exclusive=True)
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise SystemExit(f"master key file {path} is empty")
    return keys


def write_key_file(path: Path, keys: Sequence[str], *, exclusive: bool = False) -> None:
    """Write the keys (current first) durably: a 0600 temporary file, fsync, then rename it
    over the old file, or link it into place when `exclusive` (first start: never overwrite)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(keys) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if exclusive:
        try:
            os.link(tmp, path)  # FileExistsError if another process made it first
        finally:
            os.unlink(tmp)
    else:
        os.replace(tmp, path)


class SecretBox:
    """Seals under the current master key, opens under any of the known ones.

    With a key file, the file is looked at again (its modification time) at
    most once per `RELOAD_S`, so a rotation made by another process is seen.
    """

    def __init__(self, keys: Sequence[str], *, key_file: Path | None = None) -> None:
        self._key_file = key_file
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._mtime = key_file.stat().st_mtime_ns if key_file is not None else 0
        self._use(keys)

    def _use(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one master key")
        self.keys = tuple(keys)
        # Any master-key string works: it is stretched to 32 bytes with SHA-256.
        self._aeads = [AESGCM(hashlib.sha256(key.encode()).digest()) for key in self.keys]

    @property
    def key_id(self) -> str:
        """The fingerprint of the key that seals."""
        self._maybe_reload()
        return key_id(self.keys[0])

    def _maybe_reload(self, *, force: bool = False) -> None:
        if self._key_file is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_S:
            return
        with self._lock:
            self._checked = now
            mtime = self._key_file.stat().st_mtime_ns
            if mtime != self._mtime:
                self._use(read_key_file(self._key_file))
                self._mtime = mtime

    def seal(self, plaintext: str) -> str:
        self._maybe_reload()
        nonce = os.urandom(12)
        sealed = self._aeads[0].encrypt(nonce, plaintext.encode(), _AAD)
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, token: str) -> str:
        if not token.startswith(PREFIX):
            raise ValueError("not a sealed secret")
        raw = base64.b64decode(token[len(PREFIX) :])
        self._maybe_reload()
        for attempt in range(2):
            for aead in self._aeads:
                try:
                    return aead.decrypt(raw[:12], raw[12:], _AAD).decode()
                except InvalidTag:
                    continue
            if attempt == 0:
                self._maybe_reload(force=True)  # sealed under a key another process just added
        raise ValueError("sealed with a master key this deployment does not have")

"""Secrets at rest: AES-256-GCM under the deployment's master key.

Merchant secrets must be recoverable (HMAC needs the secret itself), so they
are encrypted rather than hashed. The master key comes from
`PAYMUX_MASTER_KEY` or a key file in the data directory.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


class SecretBox:
    def __init__(self, master_key: str) -> None:
        # Any master-key string works: it is stretched to 32 bytes with SHA-256.
        self._aead = AESGCM(hashlib.sha256(master_key.encode()).digest())

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), b"paymux-secret")
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, token: str) -> str:
        if not token.startswith(_PREFIX):
            raise ValueError("not a sealed secret")
        raw = base64.b64decode(token[len(_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], b"paymux-secret").decode()

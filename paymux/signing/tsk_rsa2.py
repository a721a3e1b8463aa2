"""TSK-RSA2 (skillpay): base64 PKCS#1 v1.5 SHA-256 over body bytes + UTC `YYYYMMDDTHHMMSSZ`."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

DATETIME_FORMAT = "%Y%m%dT%H%M%SZ"
_HEADER = re.compile(r"^TSK-RSA2\s+Datetime=(\d{8}T\d{6}Z),\s*Signature=([A-Za-z0-9+/=]+)$")


def format_datetime(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime(DATETIME_FORMAT)
        if moment.tzinfo
        else moment.strftime(DATETIME_FORMAT)
    )


def parse_datetime(text: str) -> datetime:
    """The header's datetime as a naive UTC datetime; ValueError when malformed."""
    return datetime.strptime(text, DATETIME_FORMAT)


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """A public key as PEM or as the bare base64 body (BEGIN/END lines and newlines removed)."""
    text = text.strip()
    if not text.startswith("-----BEGIN"):
        body = "".join(text.split())
        text = "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n"
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(
        pem if isinstance(pem, bytes) else pem.encode(), password=None
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def sign(body: bytes, datetime_text: str, key: rsa.RSAPrivateKey) -> str:
    signature = key.sign(body + datetime_text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(body: bytes, datetime_text: str, signature_b64: str, key: rsa.RSAPublicKey) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, body + datetime_text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def authorization_header(body: bytes, datetime_text: str, key: rsa.RSAPrivateKey) -> str:
    return f"TSK-RSA2 Datetime={datetime_text}, Signature={sign(body, datetime_text, key)}"


def parse_authorization(header: str) -> tuple[str, str]:
    """(datetime text, base64 signature) of an `Authorization: TSK-RSA2 …` header."""
    match = _HEADER.match(header.strip())
    if match is None:
        raise ValueError("malformed TSK-RSA2 Authorization header")
    return match.group(1), match.group(2)


WINDOW_S = 180  # "Requests older than 3 minutes are rejected" (the platform's security.md)


class Rejected(ValueError):
    """Why a TSK-RSA2 message was refused; `reason` is missing, malformed, stale or signature."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_authorization(
    header: str | None,
    body: bytes,
    key: rsa.RSAPublicKey,
    now: datetime,
    window_s: int = WINDOW_S,
) -> str:
    """Verify a request's or reply's `Authorization` header over its body; returns the datetime.

    Both sides of the scheme (paymux and the skill SDK) refuse the same way: no
    header, a header that does not parse, a datetime more than `window_s` away
    from `now` in either direction (clock skew cuts both ways), or a signature
    that does not verify with the sender's key.
    """
    if not header or not header.strip():
        raise Rejected("missing", "the TSK-RSA2 Authorization header is missing")
    try:
        datetime_text, signature = parse_authorization(header)
        sent = parse_datetime(datetime_text)
    except ValueError:
        raise Rejected(
            "malformed", "the Authorization header is not a valid TSK-RSA2 header"
        ) from None
    current = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    if abs((current - sent).total_seconds()) > window_s:
        raise Rejected("stale", f"Datetime {datetime_text} is outside the {window_s}s window")
    if not verify(body, datetime_text, signature, key):
        raise Rejected("signature", "the TSK-RSA2 signature does not match the body")
    return datetime_text

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

"""SHA256withRSA (RSASSA-PKCS1-v1_5, base64), the primitive under WeChat Pay v3 and Alipay RSA2.

Keys arrive in the shapes the channels hand them out: PEM, or the bare base64
body that Alipay's key tool prints (PKCS#1 or PKCS#8 private keys, SPKI public
keys), and for WeChat Pay also X.509 platform certificates.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paymux.signing import tsk_rsa2


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """An RSA private key as PEM, or as the bare base64 of its PKCS#1/PKCS#8 DER."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return tsk_rsa2.load_private_key(text)
    try:
        key = serialization.load_der_private_key(base64.b64decode("".join(text.split())), None)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("not an RSA private key (PEM or base64 DER)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key as PEM, bare base64 SPKI, or the key of a PEM X.509 certificate."""
    text = text.strip()
    if text.startswith("-----BEGIN CERTIFICATE"):
        key = x509.load_pem_x509_certificate(text.encode()).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the certificate does not hold an RSA key")
        return key
    return tsk_rsa2.load_public_key(text)


def sign(message: bytes, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(message: bytes, signature_b64: str, key: rsa.RSAPublicKey) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True

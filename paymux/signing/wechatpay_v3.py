"""WeChat Pay API v3: `WECHATPAY2-SHA256-RSA2048` request signing, response/notice
verification, and AEAD_AES_256_GCM decryption of notice resources.

Per WeChat Pay's v3 signing guide:

- a request is signed over `METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n` with the
  merchant's API private key; the `Authorization` header carries mchid, nonce,
  timestamp, the merchant certificate serial and the signature;
- a response or notice is signed by WeChat Pay over `TIMESTAMP\\nNONCE\\nBODY\\n`
  (headers `Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`) with the
  platform key named by `Wechatpay-Serial` (a platform certificate serial, or a
  `PUB_KEY_ID_…` WeChat Pay public key id);
- a notice's `resource` is AES-256-GCM under the merchant's 32-byte APIv3 key,
  the 16-byte tag appended to the ciphertext, base64.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from paymux.signing import rsa_sha256

SCHEME = "WECHATPAY2-SHA256-RSA2048"
# WeChat Pay's own rule for both directions: a timestamp more than 5 minutes
# from the receiver's clock is refused.
WINDOW_S = 300


def request_message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """`path` is the URL's absolute path with its query string, exactly as sent."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def authorization(
    *,
    mchid: str,
    serial_no: str,
    method: str,
    path: str,
    timestamp: str,
    nonce: str,
    body: bytes,
    key: rsa.RSAPrivateKey,
) -> str:
    signature = rsa_sha256.sign(request_message(method, path, timestamp, nonce, body), key)
    return (
        f'{SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def verify_response(
    timestamp: str, nonce: str, body: bytes, signature_b64: str, key: rsa.RSAPublicKey
) -> bool:
    """A response's or notice's `Wechatpay-Signature` over the exact body bytes received."""
    return rsa_sha256.verify(response_message(timestamp, nonce, body), signature_b64, key)


def decrypt_resource(
    apiv3_key: str, nonce: str, associated_data: str, ciphertext_b64: str
) -> bytes:
    """The plaintext of a notice `resource`; ValueError when it was not sealed with this key."""
    key = apiv3_key.encode()
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    try:
        return AESGCM(key).decrypt(
            nonce.encode(),
            base64.b64decode(ciphertext_b64, validate=True),
            associated_data.encode(),
        )
    except (InvalidTag, binascii.Error, ValueError):
        raise ValueError("the resource does not decrypt with this APIv3 key") from None

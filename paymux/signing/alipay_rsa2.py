"""Alipay open platform RSA2 (SHA256withRSA, base64) for requests, responses and notices.

Per Alipay's signing guide (public-key mode):

- a request signs every parameter except `sign`, empty values dropped, sorted
  by name, `k=v` joined with `&`, values not URL-encoded, with the app's
  private key;
- a response signs the raw JSON text of its `<method>_response` node (dots
  become underscores) exactly as it appears in the reply; `sign` is its sibling;
- an asynchronous notice signs every parameter except `sign` and `sign_type`,
  the same way as a request, with Alipay's key; paymux verifies with the
  Alipay public key configured for the app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from paymux.signing import rsa_sha256
from paymux.signing.canonical import sorted_pairs

SIGN_TYPE = "RSA2"


def request_content(params: Mapping[str, Any]) -> str:
    return sorted_pairs(params, exclude=("sign",), drop_empty=True)


def notice_content(params: Mapping[str, Any]) -> str:
    return sorted_pairs(params, exclude=("sign", "sign_type"), drop_empty=True)


def sign_request(params: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    return rsa_sha256.sign(request_content(params).encode(), key)


def verify_notice(params: Mapping[str, str], key: rsa.RSAPublicKey) -> bool:
    signature = params.get("sign", "")
    return bool(signature) and rsa_sha256.verify(notice_content(params).encode(), signature, key)


def response_node(method: str) -> str:
    return method.replace(".", "_") + "_response"


def split_response(text: str, method: str) -> tuple[str, dict[str, Any], str]:
    """(raw node text, parsed node, sign) of a gateway reply; ValueError when malformed.

    The raw text is cut out of the reply as received (not re-serialized), since
    that is what Alipay signed. A gateway-level failure answers under
    `error_response` instead, which is returned the same way.
    """
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("the reply is not a JSON object")
    node = response_node(method) if response_node(method) in document else "error_response"
    if not isinstance(document.get(node), dict):
        raise ValueError(f"the reply has no {response_node(method)}")
    decoder = json.JSONDecoder()
    start = text.index(f'"{node}"') + len(node) + 2
    start = text.index(":", start) + 1
    while text[start] in " \t\r\n":
        start += 1
    _, end = decoder.raw_decode(text, start)
    signature = document.get("sign", "")
    return text[start:end], document[node], signature if isinstance(signature, str) else ""


def verify_response(raw_node: str, signature: str, key: rsa.RSAPublicKey) -> bool:
    return bool(signature) and rsa_sha256.verify(raw_node.encode(), signature, key)

"""`tsk_rsa2.check_authorization`, the one verifier both paymux and the skill SDK use.

Pinned by the openssl vector of VECTORS.md (the same literal as
tests/test_signing_vectors.py): body + `20261121T120000Z`, signed with
tests/data/tsk-test-private.pem.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paymux.signing import tsk_rsa2

DATA = Path(__file__).parent.parent / "data"
BODY = b'{"skillId":"SK001","tradeNo":"T1001","nonceStr":"abc"}'
SIGNATURE = (
    "Dpo0ZQksqZL68T9QkrWLLGSMCAT4l4wQcsCu38dSE+jykez86u4uN42ZwiicohBXn5IjcBW2WVTfOTrabSCJ/jWzGN9h"
    "XJzc57IAQVe3bP/yFjbkNgrCi9U/A30Y7VXHqpGdwkFtSJe8EQTp0IKRT/CGmYXUx7E/C7fa9ggdwQMjcDAatp94gvJG"
    "M4vRJ2LLhmMobUbj4DZuE3aDCXW/VPLjRmj7cvsRiTw1k2qq73IBJ/RqBzMIcItdDIe6e8BV4B8KHrlluafKqwM/wdPc"
    "8/TwBgzcDdYH980bl9KmjOCUsfKc1bWVuzS6RrfLPcLjcxnOpFLeBAXkBdTRZciqwA=="
)
HEADER = f"TSK-RSA2 Datetime=20261121T120000Z, Signature={SIGNATURE}"
SENT = datetime(2026, 11, 21, 12, 0, 0)


@pytest.fixture(scope="module")
def key() -> tsk_rsa2.rsa.RSAPublicKey:
    pem = (DATA / "tsk-test-public.pem").read_text()
    bare = "".join(pem.splitlines()[1:-1])
    return tsk_rsa2.load_public_key(bare)


@pytest.mark.parametrize("skew_s", [-180, 0, 179, 180])
def test_accepts_the_vector_within_three_minutes(
    key: tsk_rsa2.rsa.RSAPublicKey, skew_s: int
) -> None:
    now = SENT + timedelta(seconds=skew_s)
    assert tsk_rsa2.check_authorization(HEADER, BODY, key, now) == "20261121T120000Z"
    aware = now.replace(tzinfo=UTC)
    assert tsk_rsa2.check_authorization(HEADER, BODY, key, aware) == "20261121T120000Z"


@pytest.mark.parametrize(
    ("header", "body", "now", "reason"),
    [
        (None, BODY, SENT, "missing"),
        ("  ", BODY, SENT, "missing"),
        ("Bearer abc", BODY, SENT, "malformed"),
        (f"TSK-RSA2 Datetime=20261321T120000Z, Signature={SIGNATURE}", BODY, SENT, "malformed"),
        (f"TSK-RSA2 Signature={SIGNATURE}", BODY, SENT, "malformed"),
        (HEADER, BODY, SENT + timedelta(seconds=181), "stale"),
        (HEADER, BODY, SENT - timedelta(seconds=181), "stale"),
        (HEADER, BODY + b" ", SENT, "signature"),
        (HEADER.replace("Dpo0", "Dpo1"), BODY, SENT, "signature"),
        (HEADER.replace("120000Z", "120001Z"), BODY, SENT, "signature"),
    ],
)
def test_refuses_with_a_reason(
    key: tsk_rsa2.rsa.RSAPublicKey, header: str | None, body: bytes, now: datetime, reason: str
) -> None:
    with pytest.raises(tsk_rsa2.Rejected) as info:
        tsk_rsa2.check_authorization(header, body, key, now)
    assert info.value.reason == reason

"""Inputs the fuzzing found to break paymux, each pinned where it broke.

The HTTP-level versions of these cases are in test_malformed.py and run
against every dialect; these tests name the exact input and the function it
crashed, so a regression points at its cause.
"""

from __future__ import annotations

import pytest

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.dialects.requests import decode_json_object


def test_invalid_utf8_in_a_json_string_is_a_malformed_body() -> None:
    """b'{"a":"\\xff"}' raised UnicodeDecodeError out of msgspec: a 500 on every dialect."""
    with pytest.raises(PaymuxError) as caught:
        decode_json_object(b'{"a": "\xff\xfe"}')
    assert caught.value.code is ErrorCode.MALFORMED_BODY


@pytest.mark.parametrize("depth", [5000, 100_000])
def test_deeply_nested_json_is_a_malformed_body(depth: int) -> None:
    """5,000 nested arrays raised RecursionError out of msgspec: a 500 on every JSON dialect."""
    with pytest.raises(PaymuxError) as caught:
        decode_json_object(b'{"a": ' + b"[" * depth + b"]" * depth + b"}")
    assert caught.value.code is ErrorCode.MALFORMED_BODY

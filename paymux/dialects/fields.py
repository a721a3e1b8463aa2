"""Field validators shared by the dialects: presence, type, length, charset, amounts.

Each failure is a catalogue error naming the field, which the dialect renders
with its own code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timezone
from typing import Any

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.money import check_amount, parse_minor_string

INTEGER_TEXT = re.compile(r"-?[0-9]{1,18}")


def text(
    params: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    max_len: int = 64,
    pattern: re.Pattern[str] | None = None,
    default: str = "",
) -> str:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise PaymuxError(ErrorCode.MISSING_PARAM, f"{name} is required", field=name)
        return default
    if not isinstance(value, str):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{name} must be a string", field=name)
    if len(value) > max_len:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"{name} is longer than {max_len} characters", field=name
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{name} has invalid characters", field=name)
    if "\r" in value or "\n" in value or "\x00" in value:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"{name} contains control characters", field=name
        )
    return value


def amount(params: Mapping[str, Any], name: str = "amount") -> int:
    """Minor units given as a JSON integer or a string of digits; anything else is invalid."""
    value = params.get(name)
    if value is None or value == "":
        raise PaymuxError(ErrorCode.MISSING_PARAM, f"{name} is required", field=name)
    if isinstance(value, str):
        return parse_minor_string(value, field=name)
    return check_amount(value, field=name)


def integer(
    params: Mapping[str, Any], name: str, *, default: int, minimum: int, maximum: int
) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    # At most 18 digits: every bound fits, and int() never meets a string it cannot convert.
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"{name} must be an integer from {minimum} to {maximum}",
            field=name,
        )
    return value


def moment(params: Mapping[str, Any], name: str, tz: timezone) -> datetime | None:
    """A filter time: `YYYYMMDDHHMMSS`, `YYYY-MM-DD HH:MM:SS` or ISO 8601; naive = deployment tz.

    Returned as naive UTC, the way the store keeps times.
    """
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{name} must be a time string", field=name)
    parsed: datetime | None = None
    for parse in (lambda s: datetime.strptime(s, "%Y%m%d%H%M%S"), datetime.fromisoformat):
        try:
            parsed = parse(raw)
            break
        except ValueError:
            continue
    if parsed is None:
        raise PaymuxError(ErrorCode.INVALID_PARAMS, f"{name} is not a valid time", field=name)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC).replace(tzinfo=None)


def no_unknown(params: Mapping[str, Any], allowed: set[str]) -> None:
    if params.keys() <= allowed:  # the usual case, answered without building a set
        return
    extra = sorted(set(params) - allowed)
    raise PaymuxError(ErrorCode.INVALID_PARAMS, f"unknown parameter {extra[0]}", field=extra[0])

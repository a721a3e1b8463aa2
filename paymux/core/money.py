"""Money as integer minor units with a currency.

Dialects that speak decimal strings convert at their edge with `parse_decimal`
and `format_decimal`; nothing inside paymux ever holds a float amount.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from paymux.core.errors import ErrorCode, PaymuxError

# Minor-unit exponent per currency. USDT is settled with two decimals, as the
# partner spec states ("保留两位小数").
CURRENCY_EXPONENT: dict[str, int] = {"CNY": 2, "USDT": 2, "USD": 2}

# The largest amount any single order, refund or transfer may carry, in minor
# units (10^12 fen = 10 billion yuan): a bound that keeps every sum well inside
# a signed 64-bit column.
MAX_AMOUNT = 10**12


def check_currency(currency: str) -> str:
    if currency not in CURRENCY_EXPONENT:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"unsupported currency {currency!r}", field="currency"
        )
    return currency


def check_amount(amount: object, *, field: str = "amount") -> int:
    """Validate an amount already given in minor units (a JSON integer)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PaymuxError(
            ErrorCode.INVALID_AMOUNT,
            f"{field} must be a positive integer of minor units",
            field=field,
        )
    if amount <= 0:
        raise PaymuxError(ErrorCode.INVALID_AMOUNT, f"{field} must be positive", field=field)
    if amount > MAX_AMOUNT:
        raise PaymuxError(ErrorCode.INVALID_AMOUNT, f"{field} exceeds {MAX_AMOUNT}", field=field)
    return amount


def parse_minor_string(value: str, *, field: str = "amount") -> int:
    """Parse a decimal-digit string of minor units ("10000"), as form dialects send."""
    if not value.isascii() or not value.isdigit():
        raise PaymuxError(
            ErrorCode.INVALID_AMOUNT,
            f"{field} must be a positive integer of minor units",
            field=field,
        )
    return check_amount(int(value), field=field)


def parse_decimal(value: str, currency: str, *, field: str = "amount") -> int:
    """Parse "12.34" into 1234 minor units; more precision than the currency has is an error."""
    exponent = CURRENCY_EXPONENT[check_currency(currency)]
    if not isinstance(value, str) or not value or len(value) > 32:
        raise PaymuxError(
            ErrorCode.INVALID_AMOUNT, f"{field} must be a decimal string", field=field
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise PaymuxError(
            ErrorCode.INVALID_AMOUNT, f"{field} must be a decimal string", field=field
        ) from None
    if not number.is_finite() or value.strip() != value or "e" in value.lower():
        raise PaymuxError(
            ErrorCode.INVALID_AMOUNT, f"{field} must be a decimal string", field=field
        )
    scaled = number.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise PaymuxError(
            ErrorCode.INVALID_AMOUNT,
            f"{field} has more than {exponent} decimal places",
            field=field,
        )
    return check_amount(int(scaled), field=field)


def format_decimal(minor: int, currency: str) -> str:
    """1234 → "12.34" with exactly the currency's number of decimals."""
    exponent = CURRENCY_EXPONENT[currency]
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}" if exponent else f"{sign}{whole}"

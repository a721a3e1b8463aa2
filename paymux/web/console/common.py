"""What every console page shares: rendering with the console's headers, formatting, form fields.

Times are stored as naive UTC and shown (and typed in) in the deployment's
timezone (`PAYMUX_TZ_OFFSET_HOURS`), so an operator in Shanghai filters by the
day they see on their own calendar.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from litestar import Response

from paymux.core.errors import ErrorCode, PaymuxError
from paymux.core.money import CURRENCY_EXPONENT, format_decimal, parse_decimal
from paymux.web.templating import render

if TYPE_CHECKING:
    from paymux.context import Context
    from paymux.services.operators import Session

DIALECTS = ("vpay", "partner", "gateway", "skillpay", "paymodule")
CHANNELS = ("sandbox", "wechatpay", "alipay")
CURRENCIES = tuple(CURRENCY_EXPONENT)

# Stricter than the cashier's policy: no inline script or style at all, forms
# only to the console itself, never framed, and nothing cached.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self';"
    " script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

# Messages after a successful action (redirect with ?done=key): fixed texts,
# so nothing from the query string is ever shown as a message.
DONE = {
    "closed": "The order was closed.",
    "refunded": "The refund was created.",
    "redelivered": "The notification is due again and will be delivered at once.",
    "resolved": "The channel mismatch is marked resolved.",
    "approved": "The withdrawal was approved; the payout job completes it.",
    "rejected": "The withdrawal was rejected and its frozen amount released.",
    "saved": "The changes were saved.",
    "confirmed": "The order was confirmed by voice and paid.",
    "paid": "The order was paid from the payer's wallet.",
    "topped_up": "The wallet was topped up.",
}

STATUS_CODES = {
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.SANDBOX_ONLY: 404,
}


def http_status(error: PaymuxError) -> int:
    if error.code in STATUS_CODES:
        return STATUS_CODES[error.code]
    if error.code.value.endswith("not_found"):
        return 404
    if "status" in error.code.value or "conflict" in error.code.value:
        return 409
    return 400


@dataclass(frozen=True, slots=True)
class Fmt:
    """Formatting helpers handed to every template."""

    tz: timezone

    def money(self, minor: int | None, currency: str) -> str:
        return "" if minor is None else f"{format_decimal(minor, currency)} {currency}"

    def time(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return moment.replace(tzinfo=UTC).astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def rate(self, value: float | None) -> str:
        return "–" if value is None else f"{value * 100:.1f}%"


def page(
    ctx: Context,
    session: Session,
    template: str,
    status: int = 200,
    *,
    section: str,
    done: str = "",
    **context: Any,
) -> Response[str]:
    """Render a console page for a signed-in operator, with the console's headers."""
    response = render(
        f"console/{template}",
        status,
        operator=session.operator,
        csrf=session.csrf_token,
        section=section,
        sandbox=ctx.sandbox,
        fmt=Fmt(ctx.settings.tz),
        done=DONE.get(done, ""),
        **context,
    )
    response.headers.update(HEADERS)
    return response


def bare(template: str, status: int = 200, **context: Any) -> Response[str]:
    """A page outside the signed-in layout (sign-in, errors before sign-in)."""
    response = render(f"console/{template}", status, **context)
    response.headers.update(HEADERS)
    return response


# -- form and query fields ------------------------------------------------------------------------


def text(
    params: Mapping[str, Any], name: str, *, max_len: int = 256, required: bool = False
) -> str:
    value = params.get(name, "")
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise PaymuxError(ErrorCode.MISSING_PARAM, f"{name} is required", field=name)
    if len(value) > max_len:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"{name} is longer than {max_len} characters", field=name
        )
    return value


def integer(params: Mapping[str, Any], name: str, *, minimum: int, maximum: int) -> int:
    raw = text(params, name, max_len=20, required=True)
    if not raw.lstrip("-").isdigit() or not minimum <= int(raw) <= maximum:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS,
            f"{name} must be a whole number from {minimum} to {maximum}",
            field=name,
        )
    return int(raw)


def amount(params: Mapping[str, Any], name: str, currency: str, *, required: bool) -> int | None:
    """A decimal amount as operators type it ("12.50"), in minor units."""
    raw = text(params, name, max_len=32, required=required)
    return parse_decimal(raw, currency, field=name) if raw else None


def local_time(params: Mapping[str, Any], name: str, tz: timezone) -> datetime | None:
    """A `datetime-local` (or plain date) field in the deployment's timezone, as naive UTC."""
    raw = text(params, name, max_len=32)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"{name} must be a date and time", field=name
        ) from None
    return moment.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def day(params: Mapping[str, Any], name: str, default: date) -> date:
    raw = text(params, name, max_len=10)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise PaymuxError(
            ErrorCode.INVALID_PARAMS, f"{name} must be YYYY-MM-DD", field=name
        ) from None


def day_bounds(when: date, tz: timezone) -> tuple[datetime, datetime]:
    """The local calendar day `when` as a naive-UTC half-open range."""
    start = datetime(when.year, when.month, when.day, tzinfo=tz).astimezone(UTC)
    naive = start.replace(tzinfo=None)
    return naive, naive + timedelta(days=1)


def today(ctx: Context) -> date:
    return ctx.env.clock.now().replace(tzinfo=UTC).astimezone(ctx.settings.tz).date()


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in merchant-supplied text (CSV injection)."""
    risky = value[:1] in ("=", "+", "@", "\t", "\r") or (
        value[:1] == "-" and not value[1:2].isdigit()
    )
    return "'" + value if risky else value


def csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_cell(c) for c in cells])
    return buffer.getvalue()

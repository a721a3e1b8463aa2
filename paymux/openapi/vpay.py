"""OpenAPI 3.1 document of the vpay dialect (specs/002, docs/dialects/vpay.md), under /api/v1.

Error codes come from the dialect's own table (`vpay.codes.MESSAGES`), the
one place that says which code leaves with which HTTP status; everything else
is written from the doc page.
"""

from __future__ import annotations

from paymux.core.money import MAX_AMOUNT
from paymux.dialects.vpay.codes import MESSAGES
from paymux.openapi.schema import (
    HTTP_URL,
    Schema,
    any_of,
    array,
    document,
    integer,
    json_body,
    link,
    nullable,
    obj,
    one_required,
    operation,
    param,
    ref,
    reply,
    string,
    text,
)

ID = "^[0-9A-Za-z_-]{1,64}$"
ACCOUNT_ID = "^[0-9A-Za-z:_-]{1,32}$"
ORDER_NO = "^[0-9]{1,20}$"
UTC_TIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"
SUCCESS_CODES = ("PAYMENT.SUCCESS", "MERCHANT.CREATE_SUCCESS", "ORDER.CREATE_SUCCESS")

COMMON: dict[str, Schema] = {
    "app_id": string("the merchant id", pattern="^[0-9A-Za-z]{1,32}$"),
    "timestamp": string(
        "YYYYMMDDHHMMSS in the deployment timezone (UTC+8), within ±5 minutes",
        pattern="^[0-9]{14}$",
    ),
    "nonce_str": string("single use per merchant", pattern="^[0-9A-Za-z_-]{1,64}$"),
    "sign": string(
        "HMAC-SHA256 over every other parameter, sorted, k=v joined with &; hex",
        pattern="^[0-9A-Fa-f]{64}$",
    ),
    "sign_type": string(enum=["HMAC-SHA256"]),
}
COMMON_REQUIRED = ["app_id", "timestamp", "nonce_str", "sign"]

AMOUNT = any_of(
    integer(minimum=1, maximum=MAX_AMOUNT),
    string(pattern="^[1-9][0-9]{0,12}$"),
    description="fen: a JSON integer or a string of ASCII digits, 1 … 10^12",
)
TIME_FILTER = string(
    "YYYYMMDDHHMMSS or YYYY-MM-DD HH:MM:SS in the deployment timezone, or ISO 8601 with offset",
    max_len=40,
)


def signed(properties: dict[str, Schema], required: list[str]) -> Schema:
    """A signed request: the endpoint's fields plus the common parameters; nothing else."""
    return obj({**properties, **COMMON}, [*required, *COMMON_REQUIRED])


def signed_query(properties: dict[str, Schema], required: list[str] = ()) -> list[Schema]:
    """A signed GET: the endpoint's fields and the common parameters in the query string."""
    names = set(required) | set(COMMON_REQUIRED)
    return [
        param(name, "query", schema, required=name in names)
        for name, schema in {**properties, **COMMON}.items()
    ]


def envelope(data: Schema, codes: tuple[str, ...] = ("PAYMENT.SUCCESS",)) -> Schema:
    return obj(
        {
            "code": string(enum=list(codes)),
            "localized_msg": ref("LocalizedMsg"),
            "data": data,
            "debug_id": string("the request id, also the X-Request-Id header"),
            "timestamp": string("ISO 8601 in the deployment timezone"),
        }
    )


def error_envelope(status: int) -> Schema:
    codes = sorted(
        code
        for code, (_, _, http) in MESSAGES.items()
        if http == status and code not in SUCCESS_CODES
    )
    return obj(
        {
            "code": string(enum=codes),
            "localized_msg": ref("LocalizedMsg"),
            "data": {"type": "null"},
            "debug_id": string(),
            "timestamp": string(),
            "detail": string("what exactly was wrong (paymux addition)"),
        }
    )


ERROR_DESCRIPTIONS = {
    400: "a field missing or invalid, or the body is not a JSON object",
    401: "signature, timestamp or admin token refused",
    403: "merchant disabled, IP not allowed, another merchant's order or account, sandbox only",
    404: "no such merchant, order or account",
    409: "replayed nonce, order status, insufficient balance, refund over the rest",
    413: "body over PAYMUX_MAX_BODY_BYTES",
    415: "a POST that is not application/json",
    429: "over the merchant's rate limit",
    500: "a bug in paymux (logged with the debug_id)",
    503: "the database could not commit; nothing was acknowledged",
}
SIGNED_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 500, 503)
UNSIGNED_ERRORS = (400, 403, 404, 409, 413, 415, 500, 503)


def responses(
    data: Schema,
    errors: tuple[int, ...] = SIGNED_ERRORS,
    *,
    codes: tuple[str, ...] = ("PAYMENT.SUCCESS",),
    links: dict[str, Schema] | None = None,
) -> dict[str, Schema]:
    out = {"200": reply("success", envelope(data, codes), links=links)}
    for status in errors:
        out[str(status)] = reply(ERROR_DESCRIPTIONS[status], ref(f"Error{status}"))
    return out


def time_or_null(description: str = "") -> Schema:
    schema = nullable(string(pattern=UTC_TIME))
    if description:
        schema["description"] = description
    return schema


MERCHANT = obj(
    {
        "merchant_id": string(pattern="^M[0-9a-z]{18}$"),
        "merchant_name": string(),
        "public_key": string("the platform's RSA public key (PEM), the same for every merchant"),
        "create_time": string(pattern=UTC_TIME),
        "status": string(enum=["active", "disabled"]),
    }
)
ORDER = obj(
    {
        "order_id": string(pattern=ORDER_NO),
        "merchant_order_id": string(),
        "merchant_id": string(),
        "amount": integer(minimum=1),
        "currency": string(),
        "channel": string("QR_CODE, ALIPAY, WECHAT_PAY; empty for another dialect's order"),
        "pay_type": string("the same as channel"),
        "status": integer(
            "0 pending, 1 paid, 2 closed/expired/failed, 3/4 refunded", minimum=0, maximum=4
        ),
        "refunded_amount": integer(minimum=0),
        "product_desc": string(),
        "create_time": string(pattern=UTC_TIME),
        "pay_time": time_or_null(),
        "expire_time": time_or_null(),
        "pay_url": string("the hosted cashier page"),
    }
)
ACCOUNT = obj(
    {
        "account_id": string(),
        "balance": integer(),
        "frozen_balance": integer(minimum=0),
        "available_balance": integer(),
        "currency": string(),
        "create_time": string(pattern=UTC_TIME),
    }
)
LINE = obj(
    {
        "transaction_id": string(pattern="^[0-9]+$"),
        "order_id": nullable(string()),
        "amount": integer(minimum=1),
        "type": integer(
            "1 pay, 2 refund, 3 recharge, 4 withdraw, 5 transfer", minimum=0, maximum=5
        ),
        "is_income": {"type": "boolean"},
        "amount_display": string(pattern="^[+-][0-9]+\\.[0-9]{2}$"),
        "currency": string(),
        "create_time": string(pattern=UTC_TIME),
    }
)
REFUND = obj(
    {
        "refund_id": string(pattern=ORDER_NO),
        "merchant_refund_id": string(),
        "order_id": string(pattern=ORDER_NO),
        "merchant_order_id": string(),
        "amount": integer(minimum=1),
        "currency": string(),
        "refund_status": string(enum=["PROCESSING", "SUCCEEDED", "FAILED"]),
        "status": integer(minimum=0, maximum=4),
        "refunded_amount": integer(minimum=0),
        "create_time": string(pattern=UTC_TIME),
        "complete_time": time_or_null(),
    }
)


def page(item: Schema) -> Schema:
    return obj(
        {
            "total": integer(minimum=0),
            "current_page": integer(minimum=1),
            "page_size": integer(minimum=1, maximum=100),
            "total_pages": integer(minimum=0),
            "data": array(item),
        }
    )


def money_move(time_field: str) -> Schema:
    return obj(
        {
            "account_id": string(),
            "transaction_id": string(pattern="^[0-9]+$"),
            "amount": integer(minimum=1),
            "balance": integer(),
            time_field: string(pattern=UTC_TIME),
        }
    )


def order_ref(schema: Schema) -> Schema:
    """order_id or merchant_order_id: at least one; both must then name the same order."""
    return one_required(schema, "order_id", "merchant_order_id", exactly=False)


ORDER_REF = {
    "order_id": string("paymux's order no", pattern=ID),
    "merchant_order_id": string("the merchant's order no", pattern=ID),
}
URL = string("http(s) URL with a host, no user:password", max_len=512, pattern=HTTP_URL)
PAGING = {
    "page": string("≥ 1, default 1", pattern="^[0-9]{1,7}$"),
    "page_size": string("1–100, default 10", pattern="^[0-9]{1,3}$"),
    "start_time": TIME_FILTER,
    "end_time": TIME_FILTER,
}
ACCOUNT_PATH = param("account_id", "path", string(pattern=ACCOUNT_ID), required=True)
ORDER_LINKS = {
    "QueryOrder": link("orderQuery", "query the order just made", order_id="/data/order_id"),
    "CloseOrder": link("orderClose", "close it", order_id="/data/order_id"),
    "RefundOrder": link("orderRefund", "refund it", order_id="/data/order_id"),
}


def paths() -> dict[str, dict[str, Schema]]:
    merchant_name = text("1–128 characters after trimming", max_len=128)
    return {
        "/merchants": {
            "post": operation(
                "merchantCreate",
                "Create a merchant (sandbox only); the HMAC secret is shown once",
                responses(
                    obj({**MERCHANT["properties"], "secret_key": string(pattern="^[0-9a-f]{32}$")}),
                    UNSIGNED_ERRORS,
                    codes=("MERCHANT.CREATE_SUCCESS",),
                ),
                request_body=json_body(obj({"merchant_name": merchant_name}, ["merchant_name"])),
                tags=["merchants"],
            )
        },
        "/merchants/info": {
            "post": operation(
                "merchantInfo",
                "The calling merchant",
                responses(MERCHANT),
                request_body=json_body(signed({}, [])),
                tags=["merchants"],
            )
        },
        "/merchants/update": {
            "post": operation(
                "merchantUpdate",
                "Rename the calling merchant",
                responses(obj({"merchant_id": string(), "merchant_name": string()})),
                request_body=json_body(signed({"merchant_name": merchant_name}, ["merchant_name"])),
                tags=["merchants"],
            )
        },
        "/merchants/regenerate-keys": {
            "post": operation(
                "merchantRegenerateKeys",
                "Rotate the HMAC secret; the old one stays valid for the grace period",
                responses(
                    obj(
                        {
                            "merchant_id": string(),
                            "public_key": string(),
                            "secret_key": string(pattern="^[0-9a-f]{32}$"),
                            "old_secret_grace_period_s": integer(minimum=0),
                        }
                    )
                ),
                request_body=json_body(signed({}, [])),
                tags=["merchants"],
            )
        },
        "/merchants/search": {
            "get": operation(
                "merchantSearch",
                "Search merchants by name (admin token)",
                responses(page(MERCHANT), (400, 401, 404, 500, 503)),
                parameters=[
                    param("merchant_name", "query", string("substring, literal", max_len=128)),
                    param("page", "query", PAGING["page"]),
                    param("page_size", "query", PAGING["page_size"]),
                ],
                security=[{"adminToken": []}],
                tags=["merchants"],
            )
        },
        "/orders/create": {
            "post": operation(
                "orderCreate",
                "Create an order (idempotent on merchant_order_id)",
                responses(ORDER, codes=("ORDER.CREATE_SUCCESS",), links=ORDER_LINKS),
                request_body=json_body(
                    signed(
                        {
                            "merchant_order_id": string(pattern=ID),
                            "amount": AMOUNT,
                            "currency": string(enum=["CNY", "USDT", "USD"]),
                            "channel": string(enum=["QR_CODE", "ALIPAY", "WECHAT_PAY"]),
                            "notify_url": URL,
                            "product_desc": text(max_len=256),
                        },
                        ["merchant_order_id", "amount", "channel"],
                    )
                ),
                tags=["orders"],
            )
        },
        "/orders/query": {
            "post": operation(
                "orderQuery",
                "Query an order by order_id or merchant_order_id",
                responses(ORDER),
                request_body=json_body(order_ref(signed(ORDER_REF, []))),
                tags=["orders"],
            )
        },
        "/orders/close": {
            "post": operation(
                "orderClose",
                "Close a pending order",
                responses(
                    obj(
                        {
                            "order_id": string(pattern=ORDER_NO),
                            "merchant_order_id": string(),
                            "status": integer(minimum=0, maximum=4),
                        }
                    )
                ),
                request_body=json_body(order_ref(signed(ORDER_REF, []))),
                tags=["orders"],
            )
        },
        "/orders/pay": {
            "post": operation(
                "orderPay",
                "Pay an order from one virtual account into another (sandbox only, unsigned)",
                responses(
                    obj(
                        {
                            "order_id": string(pattern=ORDER_NO),
                            "transaction_id": string(pattern="^[0-9]+$"),
                            "amount": integer(minimum=1),
                            "currency": string(),
                            "status": integer(minimum=0, maximum=4),
                            "pay_time": time_or_null(),
                        }
                    ),
                    UNSIGNED_ERRORS,
                ),
                request_body=json_body(
                    obj(
                        {
                            "order_id": string(pattern=ID),
                            "from_account": string(pattern=ACCOUNT_ID),
                            "to_account": string(pattern=ACCOUNT_ID),
                        }
                    )
                ),
                tags=["orders"],
            )
        },
        "/orders/list": {
            "get": operation(
                "orderList",
                "The merchant's orders, newest first (signed query string)",
                responses(page(ORDER)),
                parameters=signed_query({"status": string("0–4", pattern="^[0-4]$"), **PAGING}),
                tags=["orders"],
            )
        },
        "/orders/refund": {
            "post": operation(
                "orderRefund",
                "Refund part or all of a paid order (paymux addition)",
                responses(REFUND),
                request_body=json_body(
                    order_ref(
                        signed(
                            {
                                **ORDER_REF,
                                "merchant_refund_id": string(pattern=ID),
                                "amount": AMOUNT,
                                "reason": text(max_len=256),
                                "notify_url": URL,
                            },
                            ["merchant_refund_id", "amount"],
                        )
                    )
                ),
                tags=["orders"],
            )
        },
        **account_paths(),
    }


def account_paths() -> dict[str, dict[str, Schema]]:
    """Unsigned in sandbox mode; with `app_id` (and always in production) signed and owned."""

    def account_body(
        properties: dict[str, Schema], required: list[str], *, body_required: bool = True
    ) -> Schema:
        return json_body(obj({**properties, **COMMON}, required), required=body_required)

    created_links = {
        "AccountInfo": {
            "operationId": "accountInfo",
            "parameters": {"path.account_id": "$response.body#/data/account_id"},
        },
        "Recharge": link("accountRecharge", "fund it", account_id="/data/account_id"),
    }
    amount_body = {"account_id": string(pattern=ACCOUNT_ID), "amount": AMOUNT}
    return {
        "/accounts": {
            "post": operation(
                "accountCreate",
                "Open a virtual account (empty body or {currency})",
                responses(ACCOUNT, links=created_links),
                request_body=account_body(
                    {"currency": string(enum=["CNY", "USDT", "USD"])}, [], body_required=False
                ),
                tags=["accounts"],
            )
        },
        "/accounts/{account_id}": {
            "get": operation(
                "accountInfo",
                "An account's balances",
                responses(ACCOUNT),
                parameters=[
                    ACCOUNT_PATH,
                    *[param(n, "query", s) for n, s in COMMON.items()],
                ],
                tags=["accounts"],
            )
        },
        "/accounts/recharge": {
            "post": operation(
                "accountRecharge",
                "Money in from outside",
                responses(money_move("recharge_time")),
                request_body=account_body(amount_body, ["account_id", "amount"]),
                tags=["accounts"],
            )
        },
        "/accounts/withdraw": {
            "post": operation(
                "accountWithdraw",
                "Money out to the outside, at once",
                responses(money_move("withdraw_time")),
                request_body=account_body(amount_body, ["account_id", "amount"]),
                tags=["accounts"],
            )
        },
        "/accounts/transfer": {
            "post": operation(
                "accountTransfer",
                "Move money between two accounts of one currency",
                responses(
                    obj(
                        {
                            "from_account_id": string(),
                            "to_account_id": string(),
                            "transaction_id": string(pattern="^[0-9]+$"),
                            "amount": integer(minimum=1),
                            "transfer_time": string(pattern=UTC_TIME),
                        }
                    )
                ),
                request_body=account_body(
                    {
                        "from_account": string(pattern=ACCOUNT_ID),
                        "to_account": string(pattern=ACCOUNT_ID),
                        "amount": AMOUNT,
                    },
                    ["from_account", "to_account", "amount"],
                ),
                tags=["accounts"],
            )
        },
        "/accounts/{account_id}/transactions": {
            "get": operation(
                "accountTransactions",
                "An account's movements, newest first",
                responses(page(LINE)),
                parameters=[
                    ACCOUNT_PATH,
                    param("type", "query", string("1–5", pattern="^[0-5]$")),
                    *[param(n, "query", s) for n, s in {**PAGING, **COMMON}.items()],
                ],
                tags=["accounts"],
            )
        },
    }


def openapi(server_url: str = "") -> Schema:
    components: dict[str, Schema] = {
        "LocalizedMsg": obj({"zh_CN": string(), "en_US": string()}),
        **{f"Error{status}": error_envelope(status) for status in ERROR_DESCRIPTIONS},
    }
    return document(
        "paymux — vpay dialect",
        "The virtual payment system API (specs/002) as paymux serves it: "
        "HMAC-SHA256 signed JSON under /api/v1, every reply in the unified envelope. "
        "See docs/dialects/vpay.md.",
        paths(),
        server_url=f"{server_url}/api/v1",
        schemas=components,
        security_schemes={"adminToken": {"type": "http", "scheme": "bearer"}},
    )

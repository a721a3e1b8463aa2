"""OpenAPI 3.1 document of the paymodule dialect (specs/004, docs/dialects/paymodule.md).

Replies are `{code, msg, data}` with `code` equal to the HTTP status; the
caller is identified by `X-Api-Key` (or the deployment's default merchant).
"""

from __future__ import annotations

from paymux.core.money import MAX_AMOUNT
from paymux.openapi.schema import (
    HTTP_URL,
    Schema,
    document,
    integer,
    json_body,
    nullable,
    obj,
    operation,
    param,
    ref,
    reply,
    string,
    text,
)

LOCAL_TIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
ORDER_STATUS = ["INIT", "PENDING", "SUCCEEDED", "FAILED", "CANCELED", "EXPIRED"]
INT64 = integer(minimum=1, maximum=2**63 - 1)
ERROR_DESCRIPTIONS = {
    400: "a field missing or invalid, malformed JSON, bizOrderId reused with other parameters",
    401: "no X-Api-Key and no default merchant, or an unknown key",
    403: "merchant disabled, IP not allowed",
    404: "no such order (or not yet a transaction)",
    413: "body too large",
    415: "Content-Type is not application/json",
    429: "over the merchant's rate limit",
    500: "the channel refused or could not be reached (支付创建失败), or a paymux bug",
    503: "storage unavailable",
}


def envelope(data: Schema) -> Schema:
    return obj({"code": {"const": 200}, "msg": string(), "data": data})


def error(status: int) -> Schema:
    return obj(
        {"code": {"const": status}, "msg": string("<中文>: <detail>"), "data": {"type": "null"}}
    )


def responses(
    data: Schema, errors: tuple[int, ...], links: dict[str, Schema] | None = None
) -> dict[str, Schema]:
    out = {"200": reply("success", envelope(data), links=links)}
    for status in errors:
        out[str(status)] = reply(ERROR_DESCRIPTIONS[status], ref(f"Error{status}"))
    return out


CREATED = obj(
    {
        "orderId": INT64,
        "transactionId": nullable(INT64),
        "status": string(enum=ORDER_STATUS),
        "qrBase64": nullable(string("data:image/png;base64,… of the channel's code URL")),
        "expireAt": string(pattern=LOCAL_TIME),
    }
)
ORDER = obj(
    {
        "id": INT64,
        "bizOrderId": string(),
        "amount": integer(minimum=1),
        "currency": string(),
        "channel": string("WECHAT or ALIPAY (empty for an order made through another dialect)"),
        "status": string(enum=ORDER_STATUS),
        "subject": string(),
        "description": string(),
        "channelTradeNo": nullable(string()),
        "paidAt": nullable(string(pattern=LOCAL_TIME)),
        "expireAt": nullable(string(pattern=LOCAL_TIME)),
        "createdAt": string(pattern=LOCAL_TIME),
    }
)
TRANSACTION = obj(
    {
        "id": INT64,
        "orderId": INT64,
        "channel": string(enum=["WECHAT", "ALIPAY"]),
        "clientType": string(enum=["NATIVE", "PRECREATE"]),
        "status": string(enum=ORDER_STATUS),
        "qrBase64": nullable(string()),
        "codeUrl": nullable(string()),
        "channelTradeNo": nullable(string()),
        "createdAt": string(pattern=LOCAL_TIME),
    }
)
HEALTH = obj(
    {
        "status": string(enum=["UP", "DEGRADED", "DOWN"]),
        "service": string(enum=["paymux"]),
        "time": string(pattern=LOCAL_TIME),
        "message": string(),
        "database": obj({"status": string(enum=["UP", "DOWN"]), "error": string()}, ["status"]),
        "dispatcher": obj(
            {
                "status": string(enum=["UP", "LAGGING"]),
                "embedded": {"type": "boolean"},
                "due": integer(minimum=0),
                "oldestDueSeconds": {"type": "number", "minimum": 0},
            }
        ),
    },
    ["status", "service", "time", "message", "database"],
)
CREATE_BODY = obj(
    {
        "bizOrderId": string(
            "unique per merchant, the idempotency key", pattern="^[0-9A-Za-z_-]{1,64}$"
        ),
        "amount": integer("fen", minimum=1, maximum=MAX_AMOUNT),
        "subject": text(max_len=127),
        "description": text(max_len=128, min_len=0),
        "callbackUrl": string("http(s) URL", max_len=512, pattern=HTTP_URL),
    },
    ["bizOrderId", "amount", "subject", "callbackUrl"],
)
ORDER_ID = param(
    "orderId", "path", string("a positive 64-bit integer", pattern="^[0-9]{1,19}$"), required=True
)
CREATE_ERRORS = (400, 401, 403, 413, 415, 429, 500, 503)
READ_ERRORS = (400, 401, 403, 404, 429, 500, 503)


def create(op_id: str, summary: str) -> dict[str, Schema]:
    links = {
        "GetOrder": {
            "operationId": "getOrder",
            "parameters": {"path.orderId": "$response.body#/data/orderId"},
        },
        "LatestTransaction": {
            "operationId": "latestTransaction",
            "parameters": {"path.orderId": "$response.body#/data/orderId"},
        },
    }
    return {
        "post": operation(
            op_id,
            summary,
            responses(CREATED, CREATE_ERRORS, links),
            request_body=json_body(CREATE_BODY),
            security=[{"apiKey": []}, {}],
            tags=["pay"],
        )
    }


def openapi(server_url: str = "") -> Schema:
    paths = {
        "/pay/wechat/native": create("wechatNative", "WeChat Pay Native QR code"),
        "/pay/alipay/precreate": create("alipayPrecreate", "Alipay precreate QR code"),
        "/pay/orders/{orderId}": {
            "get": operation(
                "getOrder",
                "An order of the caller",
                responses(ORDER, READ_ERRORS),
                parameters=[ORDER_ID],
                security=[{"apiKey": []}, {}],
                tags=["pay"],
            )
        },
        "/pay/orders/{orderId}/transactions/latest": {
            "get": operation(
                "latestTransaction",
                "The order's latest channel attempt",
                responses(TRANSACTION, READ_ERRORS),
                parameters=[ORDER_ID],
                security=[{"apiKey": []}, {}],
                tags=["pay"],
            )
        },
        "/health": {
            "get": operation(
                "health",
                "Database and notification dispatcher health (no caller identification)",
                {
                    "200": reply("UP or DEGRADED", envelope(HEALTH)),
                    "400": reply("a body on the GET", ref("Error400")),
                    "503": reply(
                        "the database cannot be read",
                        obj({"code": {"const": 503}, "msg": string(), "data": HEALTH}),
                    ),
                },
                tags=["health"],
            )
        },
    }
    return document(
        "paymux — paymodule dialect",
        "WeChat Native / Alipay precreate QR payments (specs/004) as paymux serves them: "
        "JSON under /api, replies {code, msg, data} with code = HTTP status. "
        "See docs/dialects/paymodule.md.",
        paths,
        server_url=f"{server_url}/api",
        schemas={f"Error{status}": error(status) for status in ERROR_DESCRIPTIONS},
        security_schemes={"apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    )

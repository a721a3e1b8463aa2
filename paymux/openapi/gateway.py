"""OpenAPI 3.1 document of the gateway dialect (specs/003, docs/dialects/gateway.md).

Every answered request is HTTP 200 with `status` "1" or "0"; only an unknown
path (404), an oversized body (413) and paymux's own failures (500/503) carry
another status, because PHP shops read replies with file_get_contents().
"""

from __future__ import annotations

from paymux.core.money import MAX_AMOUNT
from paymux.dialects.gateway.wire import BANK_CODES
from paymux.openapi.schema import (
    HTTP_URL,
    Schema,
    any_of,
    body,
    document,
    integer,
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
FEN_TEXT = "^[0-9]+\\.00$"
ORDER_NO = string("the shop's order no", pattern="^[0-9A-Za-z_-]{1,64}$")
APPID = string("the merchant's appid", pattern="^[0-9A-Za-z_-]{1,32}$")
SIGN = string(
    "MD5 of the sorted non-empty parameters plus secret=<secret>, k=v joined with &, hex",
    pattern="^[0-9A-Fa-f]{32}$",
)
URL = string("http(s) URL with a host", max_len=512, pattern=HTTP_URL)
PAY_STATUS = integer("-1 paying, 0 failed, 1 paid", minimum=-1, maximum=1)


def unified_fields(amount: Schema) -> Schema:
    """5.1's parameters; others are accepted, signed over and ignored (hence not closed)."""
    return obj(
        {
            "appid": APPID,
            "order_no": ORDER_NO,
            "amount": amount,
            "openid": string(max_len=128),
            "product_name": text("shown on the cashier", max_len=128),
            "bank_code": string(
                "903 WeChat H5, 911 Alipay scan, 912 WeChat scan, 906 bank, 901 Alipay H5",
                enum=list(BANK_CODES),
            ),
            "attach": string(
                "echoed back; printable ASCII (URL-encode Chinese)",
                max_len=1024,
                pattern="^[\\x20-\\x7e]*$",
            ),
            "notify_url": URL,
            "return_url": URL,
            "sign": SIGN,
        },
        [
            "appid",
            "order_no",
            "amount",
            "product_name",
            "bank_code",
            "notify_url",
            "return_url",
            "sign",
        ],
        closed=False,
    )


FORM_AMOUNT = string("fen, digits only", pattern="^[1-9][0-9]{0,12}$")
JSON_AMOUNT = any_of(
    integer(minimum=1, maximum=MAX_AMOUNT), FORM_AMOUNT, description="fen, 1 … 10^12"
)


def envelope(data: Schema) -> Schema:
    return obj({"status": string(enum=["1"]), "message": string(), "data": data})


ERROR = obj(
    {
        "status": string(enum=["0"]),
        "message": string("a Chinese phrase, then the precise reason"),
        "data": {"type": "object", "maxProperties": 0},
    }
)


def responses(data: Schema, links: dict[str, Schema] | None = None) -> dict[str, Schema]:
    return {
        "200": reply(
            'status "1" with data, or status "0" with the reason',
            {"oneOf": [envelope(data), ref("Error")]},
            links=links,
        ),
        "404": reply("no such endpoint", ref("Error")),
        "413": reply("body too large", ref("Error")),
        "500": reply("paymux failed", ref("Error")),
        "503": reply("storage unavailable", ref("Error")),
    }


UNIFIED = obj(
    {
        "order_no": string(),
        "platform_order_no": string(pattern="^[0-9]+$"),
        "pay_status": PAY_STATUS,
        "bank_code": string(),
        "amount": string(pattern=FEN_TEXT),
        "content": string("an auto-submitting HTML form to redirect_url"),
        "redirect_url": string("the hosted cashier"),
    }
)
QUERY = obj(
    {
        "order_no": string(),
        "amount": string(pattern=FEN_TEXT),
        "attach": string(),
        "pay_status": PAY_STATUS,
        "platform_order_no": string(pattern="^[0-9]+$"),
        "created_at": string(pattern=LOCAL_TIME),
        "pay_time": nullable(string(pattern=LOCAL_TIME)),
        "bank_code": string(),
    }
)


def openapi(server_url: str = "") -> Schema:
    form = unified_fields(FORM_AMOUNT)
    paths = {
        "/unified": {
            "post": operation(
                "unifiedOrder",
                "5.1 统一下单: create an order and get the cashier URL",
                responses(
                    UNIFIED,
                    {
                        "CheckOrder": {
                            "operationId": "checkOrder",
                            "parameters": {"order_no": "$response.body#/data/order_no"},
                        }
                    },
                ),
                request_body=body(
                    {
                        "application/x-www-form-urlencoded": form,
                        "application/json": unified_fields(JSON_AMOUNT),
                        "multipart/form-data": form,
                    }
                ),
                tags=["gateway"],
            )
        },
        "/check_order": {
            "get": operation(
                "checkOrder",
                "5.4 订单查询 by the shop's order_no",
                responses(QUERY),
                parameters=[
                    param("appid", "query", APPID, required=True),
                    param("order_no", "query", ORDER_NO, required=True),
                    param("sign", "query", SIGN, required=True),
                ],
                tags=["gateway"],
            )
        },
    }
    return document(
        "paymux — gateway dialect",
        "The aggregated payment gateway (specs/003) as paymux serves it: MD5-signed "
        "form posts under /api/order, JSON replies {status, message, data}. "
        "See docs/dialects/gateway.md.",
        paths,
        server_url=f"{server_url}/api/order",
        schemas={"Error": ERROR},
    )

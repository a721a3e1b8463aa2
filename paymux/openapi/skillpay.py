"""OpenAPI 3.1 document of skillpay's `/paycgi` endpoints (specs/001, docs/dialects/skillpay.md).

Requests and every reply (errors included) carry `Authorization: TSK-RSA2
Datetime=…, Signature=…` over the exact body bytes. Unknown request fields are
ignored, as the spec announces fields may be added, so request objects stay open.
"""

from __future__ import annotations

from paymux.core.money import MAX_AMOUNT
from paymux.dialects.skillpay.codes import MESSAGES
from paymux.openapi.schema import (
    Schema,
    array,
    document,
    integer,
    json_body,
    link,
    obj,
    one_required,
    operation,
    param,
    ref,
    reply,
    string,
)

NO = "^[0-9A-Za-z]{1,32}$"
AMOUNT = integer("fen", minimum=1, maximum=MAX_AMOUNT)
SIGNED_REPLY = {
    "Authorization": {
        "required": True,
        "description": "TSK-RSA2 Datetime=YYYYMMDDTHHMMSSZ, Signature=<base64>, platform key",
        "schema": string(
            pattern="^TSK-RSA2 Datetime=[0-9]{8}T[0-9]{6}Z, Signature=[A-Za-z0-9+/=]+$"
        ),
    }
}
COMMON = {
    "skillId": string("paymux's skill id", max_len=32, min_len=1),
    "nonceStr": string("single use per skill for 6 minutes", max_len=32, min_len=1),
    "version": string(enum=["1.0"]),
}
ERROR_DESCRIPTIONS = {
    400: "PARAM_ERROR: a field missing or malformed, sums that do not add up, not JSON",
    401: "SIGN_ERROR / REQUEST_EXPIRED",
    403: "SKILL_DISABLED / IP_NOT_ALLOWED",
    404: "SKILL_NOT_EXIST / ORDER_NOT_EXIST / REFUND_NOT_EXIST / NOT_FOUND",
    409: "REPEATED_REQUEST / ORDER_STATUS_ERROR / REFUND_* / NOT_ENOUGH_BALANCE",
    429: "FREQUENCY_LIMITED",
    500: "SYSTEM_ERROR",
    503: "SYSTEM_UNAVAILABLE",
}


def request(properties: dict[str, Schema], required: list[str], one_of: tuple[str, str]) -> Schema:
    """A request: open (unknown fields are ignored), with exactly one of the `one_of` pair."""
    schema = obj({**COMMON, **properties}, ["skillId", "nonceStr", *required], closed=False)
    return one_required(schema, *one_of, exactly=True)


def error(status: int) -> Schema:
    codes = sorted(code for code, (_, http) in MESSAGES.items() if http == status)
    return obj(
        {
            "retCode": string(enum=["FAIL"]),
            "retMsg": string(max_len=32),
            "errCode": string(enum=codes),
            "errDetail": string(),
        }
    )


def responses(data: Schema, links: dict[str, Schema] | None = None) -> dict[str, Schema]:
    out = {"200": reply("retCode SUCCESS", data, headers=SIGNED_REPLY, links=links)}
    for status, description in ERROR_DESCRIPTIONS.items():
        out[str(status)] = reply(description, ref(f"Error{status}"), headers=SIGNED_REPLY)
    return out


ORDER_FIELDS = {
    "retCode": string(enum=["SUCCESS"]),
    "skillId": string(),
    "transactionId": string(pattern=NO),
    "tradeNo": string(pattern=NO),
    "totalAmt": AMOUNT,
}
REFUND_FIELDS = {
    **ORDER_FIELDS,
    "refundTransactionId": string(pattern=NO),
    "refundTradeNo": string(pattern=NO),
    "refundAmt": AMOUNT,
}
LINE = obj(
    {
        "itemId": string(min_len=1, max_len=32),
        "quantity": integer(minimum=1, maximum=10**6),
        "amount": integer("the line total in fen", minimum=0, maximum=MAX_AMOUNT),
    },
    closed=False,
)
ONE_OF_ORDER = "exactly one of transactionId (paymux's) and tradeNo (the skill's)"
ONE_OF_REFUND = "exactly one of refundTransactionId (paymux's) and refundTradeNo (the skill's)"


def openapi(server_url: str = "") -> Schema:
    paths = {
        "/orderquery": {
            "post": operation(
                "orderQuery",
                "§3 query an order",
                responses(
                    obj(
                        {
                            **ORDER_FIELDS,
                            "tradeStatus": string(enum=["NOTPAY", "PROCESSING", "SUCCESS", "FAIL"]),
                            "tradeStatusDesc": string(),
                        }
                    )
                ),
                description=ONE_OF_ORDER,
                request_body=json_body(
                    request(
                        {"transactionId": string(pattern=NO), "tradeNo": string(pattern=NO)},
                        [],
                        ("transactionId", "tradeNo"),
                    )
                ),
                security=[{"tskRsa2": []}],
                tags=["paycgi"],
            )
        },
        "/refund": {
            "post": operation(
                "refund",
                "§4 refund (accepted PROCESSING, then settled)",
                responses(
                    obj(REFUND_FIELDS),
                    {
                        "Query": link(
                            "refundQuery",
                            "query it",
                            refundTransactionId="/refundTransactionId",
                        )
                    },
                ),
                description=ONE_OF_ORDER
                + "; refundAmt = the sum of refundDetails[].amount; totalAmt = the order's total",
                request_body=json_body(
                    request(
                        {
                            "transactionId": string(pattern=NO),
                            "tradeNo": string(pattern=NO),
                            "refundTradeNo": string("unique per skill", pattern=NO),
                            "totalAmt": AMOUNT,
                            "refundAmt": AMOUNT,
                            "refundDesc": string(max_len=64),
                            "refundDetails": array(LINE, min_items=1, max_items=100),
                        },
                        ["refundTradeNo", "totalAmt", "refundAmt", "refundDetails"],
                        ("transactionId", "tradeNo"),
                    )
                ),
                security=[{"tskRsa2": []}],
                tags=["paycgi"],
            )
        },
        "/refundquery": {
            "post": operation(
                "refundQuery",
                "§5 query a refund",
                responses(
                    obj(
                        {
                            **REFUND_FIELDS,
                            "refundStatus": string(enum=["PROCESSING", "SUCCESS", "FAIL"]),
                            "refundStatusDesc": string(),
                        }
                    )
                ),
                description=ONE_OF_REFUND,
                request_body=json_body(
                    request(
                        {
                            "refundTransactionId": string(pattern=NO),
                            "refundTradeNo": string(pattern=NO),
                        },
                        [],
                        ("refundTransactionId", "refundTradeNo"),
                    )
                ),
                security=[{"tskRsa2": []}],
                tags=["paycgi"],
            )
        },
        "/platform-key": {
            "get": operation(
                "platformKey",
                "The platform's public key: PEM, or ?format=base64 for the bare body",
                {
                    "200": reply(
                        "the key", string(), media_type="text/plain", headers=SIGNED_REPLY
                    ),
                    "400": reply(
                        "format is neither pem nor base64", ref("Error400"), headers=SIGNED_REPLY
                    ),
                },
                parameters=[param("format", "query", string(enum=["pem", "base64"]))],
                security=[],
                tags=["paycgi"],
            )
        },
    }
    return document(
        "paymux — skillpay dialect (/paycgi)",
        "The endpoints a voice skill calls (specs/001): TSK-RSA2 signed JSON both ways. "
        "See docs/dialects/skillpay.md.",
        paths,
        server_url=f"{server_url}/paycgi",
        schemas={f"Error{status}": error(status) for status in ERROR_DESCRIPTIONS},
        security_schemes={
            "tskRsa2": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "TSK-RSA2 over the body bytes + UTC datetime, the skill's key",
            }
        },
    )

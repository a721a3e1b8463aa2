"""OpenAPI 3.1 document of the partner dialect (specs/000, docs/dialects/partner.md).

Every answered request is HTTP 200 with the outcome in the envelope's `code`
("0" success, else the section 9 code); only an unknown path (404), an
oversized body (413) and paymux's own failures (500/503) carry another status.
"""

from __future__ import annotations

from paymux.dialects.partner.codes import MESSAGES, SUCCESS
from paymux.openapi.schema import (
    HTTP_URL,
    Schema,
    any_of,
    document,
    integer,
    json_body,
    link,
    obj,
    operation,
    ref,
    reply,
    string,
    text,
)

NUMBER = "^[0-9A-Za-z_-]{1,64}$"
LOCAL_TIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
DECIMAL = "^[1-9][0-9]{0,9}(\\.[0-9]{1,2})?$"
URL = string("http(s) URL with a host", max_len=512, pattern=HTTP_URL)

COMMON: dict[str, Schema] = {
    "apiKey": string("the partner's apiKey", pattern=NUMBER),
    "nonce": string("single use per partner within the window", pattern=NUMBER),
    "timestamp": any_of(
        string(pattern="^[0-9]{1,16}$"),
        integer(minimum=0, maximum=10**16 - 1),
        description="milliseconds since the epoch, within the partner's window (300 s)",
    ),
    "signature": string(
        "SHA-256 of the sorted non-empty parameters + &key=appSecret, hex",
        pattern="^[0-9A-Fa-f]{64}$",
    ),
    "sign": string("the same signature under section 3.1's name", pattern="^[0-9A-Fa-f]{64}$"),
}
COMMON_REQUIRED = ["apiKey", "nonce", "timestamp"]


def signed(properties: dict[str, Schema], required: list[str]) -> Schema:
    """The endpoint's fields and the common parameters (signature as `signature` or `sign`)."""
    return obj({**properties, **COMMON}, [*required, *COMMON_REQUIRED])


def envelope(data: Schema) -> Schema:
    return obj({"code": string(enum=[SUCCESS]), "message": string(), "data": data})


def error_envelope() -> Schema:
    return obj(
        {
            "code": string(enum=sorted(code for code in MESSAGES if code != SUCCESS)),
            "message": string("the spec's wording, then what exactly was wrong"),
            "data": {"type": "null"},
        }
    )


def responses(data: Schema, links: dict[str, Schema] | None = None) -> dict[str, Schema]:
    return {
        "200": reply(
            'code "0" and data, or an error code with data null',
            {"oneOf": [envelope(data), ref("Error")]},
            links=links,
        ),
        "404": reply("no such endpoint (code 1001)", ref("Error")),
        "413": reply("body over the size limit (code 1001)", ref("Error")),
        "500": reply("paymux failed (code 9999)", ref("Error")),
        "503": reply("storage unavailable (code 9999)", ref("Error")),
    }


ORDER = obj(
    {
        "orderNo": string("paymux's order no"),
        "partnerOrderNo": string(),
        "amount": string(pattern="^[0-9]+\\.[0-9]{2}$"),
        "currency": string(),
        "status": string(enum=["PENDING", "SUCCESS", "FAILED", "CANCELED", "EXPIRED"]),
        "refundedAmount": string(pattern="^[0-9]+\\.[0-9]{2}$"),
        "openid": string(),
        "subject": string(),
        "description": string(),
        "createTime": string(pattern=LOCAL_TIME),
        "expireTime": string(pattern=LOCAL_TIME),
        "payTime": string(pattern=LOCAL_TIME),
    },
    ["orderNo", "partnerOrderNo", "amount", "currency", "status", "refundedAmount", "createTime"],
)
REFUND = obj(
    {
        "refundNo": string("paymux's refund no"),
        "partnerRefundNo": string(),
        "orderNo": string(),
        "partnerOrderNo": string(),
        "amount": string(pattern="^[0-9]+\\.[0-9]{2}$"),
        "currency": string(),
        "status": string(enum=["PENDING", "SUCCESS", "FAILED"]),
        "refundedAmount": string(pattern="^[0-9]+\\.[0-9]{2}$"),
        "reason": string(),
        "createTime": string(pattern=LOCAL_TIME),
        "completeTime": string(pattern=LOCAL_TIME),
    },
    [
        "refundNo",
        "partnerRefundNo",
        "orderNo",
        "partnerOrderNo",
        "amount",
        "currency",
        "status",
        "refundedAmount",
        "createTime",
    ],
)
WITHDRAWAL = obj(
    {
        "withdrawalNo": string(),
        "amount": string(pattern="^[0-9]+\\.[0-9]{2}$"),
        "currency": string(),
        "status": string(
            enum=["PENDING", "APPROVED", "PROCESSING", "SUCCESS", "FAILED", "REJECTED"]
        ),
        "userId": string("the user's openid for this partner"),
        "remark": string(),
        "reason": string("why it was rejected or failed"),
        "createTime": string(pattern=LOCAL_TIME),
        "completeTime": string(pattern=LOCAL_TIME),
    },
    ["withdrawalNo", "amount", "currency", "status", "userId", "createTime"],
)
SESSION = obj({"session_key": string(), "expires_in": integer(minimum=1)})
SESSION_KEY = string(pattern="^[0-9A-Za-z_-]{1,128}$")
CURRENCY = string("default USDT", enum=["USDT", "CNY"])
AMOUNT = string('decimal string, > 0, at most 2 decimals ("12.34")', pattern=DECIMAL)


def paths() -> dict[str, dict[str, Schema]]:
    def post(
        op_id: str,
        summary: str,
        request: Schema,
        data: Schema,
        *,
        links: dict[str, Schema] | None = None,
        security: list[dict[str, list[str]]] | None = None,
    ) -> dict[str, Schema]:
        return {
            "post": operation(
                op_id,
                summary,
                responses(data, links),
                request_body=json_body(request),
                security=security,
                tags=["partner"],
            )
        }

    order_no = {"orderNo": string("the partner's or paymux's order no", pattern=NUMBER)}
    return {
        "/partner/user/auth/code": post(
            "authCode",
            "3.1 auth code for the signed-in wallet user (5 minutes, single use)",
            signed({}, []),
            string("the auth code"),
            security=[{"walletToken": []}, {"walletCookie": []}],
        ),
        "/openapi/access_token/auth": post(
            "accessToken",
            "3.2 code → session_key (2 h)",
            signed({"code": SESSION_KEY}, ["code"]),
            SESSION,
            links={
                "UserInfo": link("userInfo", "who it is", sessionKey="/data/session_key"),
                "Refresh": link("refreshToken", "renew it", sessionKey="/data/session_key"),
            },
        ),
        "/openapi/access_token/refresh": post(
            "refreshToken",
            "3.3 a new session_key; the old one stops working",
            signed({"sessionKey": SESSION_KEY}, ["sessionKey"]),
            SESSION,
        ),
        "/openapi/user/info": post(
            "userInfo",
            "3.4 the user behind a session_key",
            signed({"sessionKey": SESSION_KEY}, ["sessionKey"]),
            obj(
                {
                    "nickname": string(),
                    "avatar": string("always empty: paymux keeps no avatars"),
                    "openid": string(),
                    "binding_time": string(pattern=LOCAL_TIME),
                }
            ),
        ),
        "/openapi/payment/create": post(
            "paymentCreate",
            "3.5 create a payment; the reply is the deep link's parameters",
            signed(
                {
                    "orderNo": string("the partner's order no (idempotency key)", pattern=NUMBER),
                    "amount": AMOUNT,
                    "currency": CURRENCY,
                    "openid": string(pattern=NUMBER),
                    "notifyUrl": URL,
                    "returnUrl": URL,
                    "callbackUrl": URL,
                    "subject": text(max_len=256),
                    "description": text(max_len=512),
                },
                ["orderNo", "amount"],
            ),
            obj(
                {
                    "timestamp": string("seconds", pattern="^[0-9]+$"),
                    "nonce": string(),
                    "signType": string(enum=["MD5"]),
                    "paySign": string(pattern="^[0-9a-f]{32}$"),
                    "apiKey": string(),
                    "orderNo": string("paymux's order no"),
                }
            ),
            links={
                "Query": link("paymentQuery", "query it", orderNo="/data/orderNo"),
                "Refund": link("paymentRefund", "refund it", orderNo="/data/orderNo"),
            },
        ),
        "/openapi/payment/query": post(
            "paymentQuery", "3.6 query a payment", signed(order_no, ["orderNo"]), ORDER
        ),
        "/openapi/payment/refund": post(
            "paymentRefund",
            "Refund part or all of a paid payment (ruling)",
            signed(
                {
                    **order_no,
                    "refundNo": string("the partner's refund no", pattern=NUMBER),
                    "amount": AMOUNT,
                    "reason": text(max_len=256),
                    "notifyUrl": URL,
                },
                ["orderNo", "refundNo", "amount"],
            ),
            REFUND,
            links={"Query": link("refundQuery", "query it", refundNo="/data/refundNo")},
        ),
        "/openapi/payment/refund/query": post(
            "refundQuery",
            "Query a refund by the partner's or paymux's refund no",
            signed({"refundNo": string(pattern=NUMBER)}, ["refundNo"]),
            REFUND,
        ),
        "/openapi/account/withdraw": post(
            "withdraw",
            "3.7 pay a user out of the settlement balance (frozen until reviewed)",
            signed(
                {
                    "userId": string("the user's openid", pattern=NUMBER),
                    "amount": AMOUNT,
                    "currency": CURRENCY,
                    "notifyUrl": URL,
                    "remark": text(max_len=256),
                },
                ["userId", "amount"],
            ),
            WITHDRAWAL,
            links={"Query": link("withdrawalQuery", "query it", withdrawalNo="/data/withdrawalNo")},
        ),
        "/openapi/account/withdrawal/query": post(
            "withdrawalQuery",
            "3.8 query a withdrawal",
            signed({"withdrawalNo": string(pattern=NUMBER)}, ["withdrawalNo"]),
            WITHDRAWAL,
        ),
    }


def openapi(server_url: str = "") -> Schema:
    return document(
        "paymux — partner dialect",
        "The partner open API (specs/000) as paymux serves it: SHA-256 signed JSON "
        "under /partner/api, replies {code, message, data}. See docs/dialects/partner.md.",
        paths(),
        server_url=f"{server_url}/partner/api",
        schemas={"Error": error_envelope()},
        security_schemes={
            "walletToken": {"type": "http", "scheme": "bearer", "description": "wallet_token"},
            "walletCookie": {"type": "apiKey", "in": "cookie", "name": "paymux_wallet"},
        },
    )

"""gateway signatures against the spec's own example strings, and digests computed with
`printf '%s' STRING | openssl dgst -md5` (VECTORS.md; the other three: docs/dialects/gateway.md).
"""

from __future__ import annotations

from paymux.dialects.gateway.client import GatewayClient
from paymux.signing import gateway as signing

REQUEST = {
    "order_no": "2019xxxxxxxxxxxx",
    "bank_code": "901",
    "amount": "10000",
    "appid": "gpu10000000",
    "return_url": "https://www.return.com/return",
    "notify_url": "http://www.notify.com/notify",
    "product_name": "onlinepay",
    "attach": "",
}
CALLBACK = {
    "actual_amount": "10000.00",
    "amount": "10000.00",
    "appid": "gpu10000000",
    "attach": "",
    "order_no": "2019xxxxxxx",
    "pay_status": "1",
    "pay_time": "2019-08-18 00:13:41",
    "platform_order_no": "A2019xxxxxxxxxxxx",
}


def test_request_rule_is_the_spec_example_string():
    assert signing.string_to_sign(REQUEST, "c1277xxxxxxxx", keep_empty=False) == (
        "amount=10000&appid=gpu10000000&bank_code=901&notify_url=http://www.notify.com/notify"
        "&order_no=2019xxxxxxxxxxxx&product_name=onlinepay&return_url=https://www.return.com/return"
        "&secret=c1277xxxxxxxx"
    )
    assert signing.sign_request(REQUEST, "c1277xxxxxxxx") == "73dc4777361a891f5a1e3c7094f8e675"


def test_request_signed_with_empty_values_kept_is_another_digest():
    kept = signing.sign_callback(REQUEST, "c1277xxxxxxxx")
    assert kept == "72dbc1d4aa10e60d1b06a0be258947ce"
    assert not signing.verify_request(REQUEST, "c1277xxxxxxxx", kept)


def test_callback_rule_is_the_spec_example_string():
    assert signing.string_to_sign(CALLBACK, "229254ceaf2xxxxxxxxxxxx", keep_empty=True) == (
        "actual_amount=10000.00&amount=10000.00&appid=gpu10000000&attach=&order_no=2019xxxxxxx"
        "&pay_status=1&pay_time=2019-08-18 00:13:41&platform_order_no=A2019xxxxxxxxxxxx"
        "&secret=229254ceaf2xxxxxxxxxxxx"
    )
    client = GatewayClient("http://unused", "gpu10000000", "229254ceaf2xxxxxxxxxxxx")
    signed = {**CALLBACK, "sign": "bab103379de6e7aa8ea5f5a8862b1b7a"}
    assert client.verify_callback(signed) == signed


def test_sync_return_and_query_worked_examples():
    sync = {"order_no": "2019xxxxxxxxxxxx", "pay_status": "1"}
    assert signing.sign_callback(sync, "229254ceaf2xxxxxxxxxxxx") == (
        "3a39d17b1df89cfabf90d7dada30c292"
    )
    client = GatewayClient("http://unused", "gpu10000000", "c1277xxxxxxxx")
    query = client.sign_params({"order_no": "KFAIu2019082016542198098089614"})
    assert query["sign"] == "249c04a2e87edb45b9e24afca7d0e575"

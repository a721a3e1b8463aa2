"""Every signature scheme pinned by the openssl-computed vectors of shared/specs/VECTORS.md."""

from pathlib import Path

import pytest

from paymux.signing import gateway, partner, paymodule, tsk_rsa2, vpay

DATA = Path(__file__).parent / "data"

PARTNER_PARAMS = {
    "apiKey": "testAppKey",
    "amount": "12.34",
    "currency": "USDT",
    "nonce": "abc123",
    "notifyUrl": "https://m.example.com/notify",
    "openid": "oid_123",
    "orderNo": "P20261121001",
    "timestamp": "1615887873123",
    "remark": "",
}
PHP_DIGEST = "82ED956176C219280EE53264A718F7C57E750F6E8527CE0F4DCAA63E21633EB6"
JAVA_DIGEST = "2F4639026BEC7A4F2868E8A84544D0FC918AC470B6E3C4EABEC8C5EB7DA0160A"


def test_partner_php_rule_drops_empty_values():
    assert partner.string_to_sign(PARTNER_PARAMS, "testAppSecret") == (
        "amount=12.34&apiKey=testAppKey&currency=USDT&nonce=abc123"
        "&notifyUrl=https://m.example.com/notify&openid=oid_123&orderNo=P20261121001"
        "&timestamp=1615887873123&key=testAppSecret"
    )
    assert partner.sign(PARTNER_PARAMS, "testAppSecret") == PHP_DIGEST


def test_partner_java_rule_keeps_empty_strings():
    assert partner.sign(PARTNER_PARAMS, "testAppSecret", keep_empty=True) == JAVA_DIGEST


@pytest.mark.parametrize("digest", [PHP_DIGEST, JAVA_DIGEST, PHP_DIGEST.lower()])
def test_partner_verify_accepts_both_rules(digest):
    assert partner.verify({**PARTNER_PARAMS, "signature": digest}, "testAppSecret", digest)


def test_partner_verify_rejects_other_secret_or_params():
    assert not partner.verify(PARTNER_PARAMS, "otherSecret", PHP_DIGEST)
    assert not partner.verify({**PARTNER_PARAMS, "amount": "12.35"}, "testAppSecret", PHP_DIGEST)


def test_partner_pay_sign():
    assert (
        partner.pay_sign(
            "testAppKey",
            "d0fdaf6e76154f1b8ca63b7febd15e06",
            "T1991048326502010882",
            1763537887,
            "testAppSecret",
        )
        == "4f1c0055682efbb66737147d9c9569fd"
    )


VPAY_PARAMS = {
    "amount": 10000,
    "app_id": "M9a8b7c6d5e4f3g2h1i",
    "channel": "QR_CODE",
    "merchant_order_id": "M20230519001",
    "nonce_str": "5K8264ILTKCH16CQ",
    "timestamp": "20230519153000",
}
VPAY_DIGEST = "F2BE201E0A2175E2487E422CDFF2D0E2DD724F88B45711622070605187A55891"


def test_vpay_hmac():
    assert vpay.string_to_sign({**VPAY_PARAMS, "sign": "x"}) == (
        "amount=10000&app_id=M9a8b7c6d5e4f3g2h1i&channel=QR_CODE&merchant_order_id=M20230519001"
        "&nonce_str=5K8264ILTKCH16CQ&timestamp=20230519153000"
    )
    assert vpay.sign(VPAY_PARAMS, "vpay-test-secret") == VPAY_DIGEST
    assert vpay.verify(VPAY_PARAMS, "vpay-test-secret", VPAY_DIGEST.lower())
    assert not vpay.verify({**VPAY_PARAMS, "amount": 10001}, "vpay-test-secret", VPAY_DIGEST)


def test_gateway_request_rule_from_the_spec_example():
    params = {
        "amount": "10000",
        "appid": "gpu10000000",
        "bank_code": "901",
        "notify_url": "http://www.notify.com/notify",
        "order_no": "2019xxxxxxxxxxxx",
        "product_name": "onlinepay",
        "return_url": "https://www.return.com/return",
        "attach": "",
    }
    assert gateway.sign_request(params, "c1277xxxxxxxx") == "73dc4777361a891f5a1e3c7094f8e675"
    assert gateway.verify_request(params, "c1277xxxxxxxx", "73DC4777361A891F5A1E3C7094F8E675")


def test_gateway_callback_rule_keeps_empty_values():
    params = {
        "actual_amount": "10000.00",
        "amount": "10000.00",
        "appid": "gpu10000000",
        "attach": "",
        "order_no": "2019xxxxxxx",
        "pay_status": "1",
        "pay_time": "2019-08-18 00:13:41",
        "platform_order_no": "A2019xxxxxxxxxxxx",
    }
    digest = "bab103379de6e7aa8ea5f5a8862b1b7a"
    assert gateway.sign_callback(params, "229254ceaf2xxxxxxxxxxxx") == digest
    assert not gateway.verify_request(params, "229254ceaf2xxxxxxxxxxxx", digest)


def test_paymodule_callback_signature():
    digest = paymodule.sign(
        b'{"orderId":1234567890,"status":"SUCCEEDED"}',
        "a1b2c3d4",
        "1763537887123",
        "cb-test-secret",
    )
    assert digest == "9e4a8d6c4637f9bc6f1f41535e0dc391ee8e68b3cb87463b22e1543e74389719"


TSK_BODY = b'{"skillId":"SK001","tradeNo":"T1001","nonceStr":"abc"}'
TSK_SIGNATURE = (
    "Dpo0ZQksqZL68T9QkrWLLGSMCAT4l4wQcsCu38dSE+jykez86u4uN42ZwiicohBXn5IjcBW2WVTfOTrabSCJ/jWzGN9h"
    "XJzc57IAQVe3bP/yFjbkNgrCi9U/A30Y7VXHqpGdwkFtSJe8EQTp0IKRT/CGmYXUx7E/C7fa9ggdwQMjcDAatp94gvJG"
    "M4vRJ2LLhmMobUbj4DZuE3aDCXW/VPLjRmj7cvsRiTw1k2qq73IBJ/RqBzMIcItdDIe6e8BV4B8KHrlluafKqwM/wdPc"
    "8/TwBgzcDdYH980bl9KmjOCUsfKc1bWVuzS6RrfLPcLjcxnOpFLeBAXkBdTRZciqwA=="
)


def test_tsk_rsa2_vector():
    private = tsk_rsa2.load_private_key((DATA / "tsk-test-private.pem").read_bytes())
    public_pem = (DATA / "tsk-test-public.pem").read_text()
    assert tsk_rsa2.sign(TSK_BODY, "20261121T120000Z", private) == TSK_SIGNATURE
    for key_text in (public_pem, "".join(public_pem.splitlines()[1:-1])):
        key = tsk_rsa2.load_public_key(key_text)
        assert tsk_rsa2.verify(TSK_BODY, "20261121T120000Z", TSK_SIGNATURE, key)
        assert not tsk_rsa2.verify(TSK_BODY + b" ", "20261121T120000Z", TSK_SIGNATURE, key)
        assert not tsk_rsa2.verify(TSK_BODY, "20261121T120001Z", TSK_SIGNATURE, key)
    header = tsk_rsa2.authorization_header(TSK_BODY, "20261121T120000Z", private)
    assert header == f"TSK-RSA2 Datetime=20261121T120000Z, Signature={TSK_SIGNATURE}"
    assert tsk_rsa2.parse_authorization(header) == ("20261121T120000Z", TSK_SIGNATURE)

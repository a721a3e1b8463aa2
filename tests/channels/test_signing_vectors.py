"""WeChat Pay v3 and Alipay RSA2 pinned by vectors computed outside paymux.

The RSA signatures were made with `openssl dgst -sha256 -sign tests/data/tsk-test-private.pem
| base64 -w0` over the exact strings below; the AES-256-GCM ciphertext with Node's
`crypto.createCipheriv("aes-256-gcm", …)` (tag appended, base64).
"""

from pathlib import Path

import pytest

from paymux.signing import alipay_rsa2, rsa_sha256, wechatpay_v3

DATA = Path(__file__).parent.parent / "data"
PRIVATE = rsa_sha256.load_private_key((DATA / "tsk-test-private.pem").read_text())
PUBLIC = rsa_sha256.load_public_key((DATA / "tsk-test-public.pem").read_text())

WX_BODY = (
    '{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔",'
    '"out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php",'
    '"amount":{"total":100,"currency":"CNY"}}'
).encode()
WX_REQUEST_SIGNATURE = (
    "MePtamWaJjbOLnBA9ztgFLiXAhpC2VvdTHRoBAFcqL3xQ/a/Z6BNpdO0w0MGK9ZgbGWgDFs5VEOVpqEKIJlr13cVbjiGEl"
    "F2e/uk+fZoQTR2wRw1nA5A3IWfxc8lEsnX/HLow43hLXwBIu87oIgaduz+Q1W6P7DeKYHaGqNidZI+QL9SQeRUN7xRMMW6"
    "XGX3V9NjIZoWhWZlfok58QviG19xw7a7+aKTyjRHf+2L6T/3iU1i7HTLQWkPOwn/tA8b2buX/9MEDmmuTZrIP5Kzm1FKhR"
    "O29xNN5p6HURnFlnQM7JS5bOvwngA/caGNPhKFwUJB+MgfvskHYyV7fP+0rw=="
)
WX_RESPONSE_BODY = b'{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}'
WX_RESPONSE_SIGNATURE = (
    "wMhtR+/M1IderffEu2dOzqd/QHuIdvVjz4C134CWiuUe3F9znHr/8KvklszM02wpTpBPATztAMhsEBTMQgNAU4W15C5qWU"
    "OEf7qkp+JqGzBZHqsqwVjZxZ6EnxgK2hnt5uX80LjbWdtqeDtJSl47g2OMsG7pEF+oXj6WPeSlIu9JrudO2RMcckq6QmSn"
    "GJ6mc1QkXTATX0VBsX8U1ROsWr6qXB6ZHQfnQdXJUT11uvmpc/gEh6/AmN8M5vdmj4Nh4aivKnT7boveRxLcOSjZexYZt7"
    "kbJTtm4xYHiO5UHQin73q6fUN87LHQlx+b8R73WXQmu0pMgVK+5Z54P9A6Hw=="
)


def test_wechatpay_request_signature_and_header():
    header = wechatpay_v3.authorization(
        mchid="1230000109",
        serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        method="POST",
        path="/v3/pay/transactions/native",
        timestamp="1763537887",
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
        body=WX_BODY,
        key=PRIVATE,
    )
    assert header == (
        'WECHATPAY2-SHA256-RSA2048 mchid="1230000109",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",'
        f'signature="{WX_REQUEST_SIGNATURE}",timestamp="1763537887",'
        'serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"'
    )


def test_wechatpay_response_verification():
    args = ("1763537887", "c5ac7061fccab6bf3e254dcf98995b8c", WX_RESPONSE_BODY)
    assert wechatpay_v3.verify_response(*args, WX_RESPONSE_SIGNATURE, PUBLIC)
    assert not wechatpay_v3.verify_response(
        "1763537888", args[1], args[2], WX_RESPONSE_SIGNATURE, PUBLIC
    )
    assert not wechatpay_v3.verify_response(
        args[0], args[1], args[2] + b" ", WX_RESPONSE_SIGNATURE, PUBLIC
    )
    assert not wechatpay_v3.verify_response(*args, "not base64!", PUBLIC)


GCM_KEY = "0123456789abcdefghijklmnopqrstuv"
GCM_CIPHERTEXT = (
    "kdUw5hwyZ7EmqIvJoZVgiwftZn84EGM+dIgKjZu2QD9ynHFiOdvTTO/xp9fKQ47L7mGOyxzERui6A47706YkJ1vDfQHW+O"
    "KgAnkbneFEJvJBdqwiA1GYIl25eTGFLF50hVkKxgx3lJ0il8OVKl4="
)


def test_wechatpay_resource_decryption():
    plain = wechatpay_v3.decrypt_resource(GCM_KEY, "fdasflkja484", "transaction", GCM_CIPHERTEXT)
    assert plain == (
        b'{"out_trade_no":"1217752501201407033233368018","trade_state":"SUCCESS",'
        b'"amount":{"total":100}}'
    )


@pytest.mark.parametrize(
    ("key", "nonce", "aad"),
    [
        ("0123456789abcdefghijklmnopqrstuw", "fdasflkja484", "transaction"),
        (GCM_KEY, "fdasflkja485", "transaction"),
        (GCM_KEY, "fdasflkja484", "refund"),
        ("short", "fdasflkja484", "transaction"),
    ],
)
def test_wechatpay_resource_decryption_refuses_wrong_inputs(key, nonce, aad):
    with pytest.raises(ValueError):
        wechatpay_v3.decrypt_resource(key, nonce, aad, GCM_CIPHERTEXT)


ALIPAY_REQUEST = {
    "app_id": "2014072300007148",
    "method": "alipay.trade.precreate",
    "format": "JSON",
    "charset": "utf-8",
    "sign_type": "RSA2",
    "timestamp": "2014-07-24 03:07:50",
    "version": "1.0",
    "notify_url": "http://api.test.alipay.net/atinterface/receive_notify.htm",
    "app_auth_token": "",
    "biz_content": (
        '{"out_trade_no":"20150320010101001","total_amount":"88.88","subject":"Iphone6 16G"}'
    ),
}
ALIPAY_REQUEST_SIGNATURE = (
    "NK7zu4kvxaUkBc5N72Pu96T1vEX9tWH5HEZtMhklvUN8ViTk5D3Gmd9U94hSA10wqFkbuzExxsSvi1zv8TeEO2RzIKlCOkQt"
    "oh0Mul7yKKx/CWIvPGU18S1+vOObDc/6KofWE3oSfDMpTdv9fMkp20p0kA2IEuRyP0kfY39MTWYzHYvLbGLEl7DKAOgsXfr3"
    "8M9cy13tYXmum4RqmyuxfIW/a/7VuKF6kZD6Hez+ToLJnsEb4XAOKjPbYWQc+8OeHsBo+0yX2+I7ovCwxc7uuzoqtLq77r9z"
    "lc0nVfR+lkB30kMZDkz1CSDXYVXb2EvI5KVye9VGJ7diNwSjuO46Lg=="
)


def test_alipay_request_signature():
    assert alipay_rsa2.request_content(ALIPAY_REQUEST) == (
        'app_id=2014072300007148&biz_content={"out_trade_no":"20150320010101001",'
        '"total_amount":"88.88","subject":"Iphone6 16G"}&charset=utf-8&format=JSON'
        "&method=alipay.trade.precreate"
        "&notify_url=http://api.test.alipay.net/atinterface/receive_notify.htm"
        "&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0"
    )
    assert alipay_rsa2.sign_request(ALIPAY_REQUEST, PRIVATE) == ALIPAY_REQUEST_SIGNATURE


ALIPAY_NODE = (
    '{"code":"10000","msg":"Success","out_trade_no":"6141161365682511",'
    '"qr_code":"https:\\/\\/qr.alipay.com\\/bax03206ug0kulveltqc80a8"}'
)
ALIPAY_RESPONSE_SIGNATURE = (
    "ysmJuSMBvX1nQuiMcAds568Uyp24YvkcBVoTbSANEfNhZrXbuHFdJjqv3jt9uE8Fw3mznarmKxYYSBDhaIj20Rs7VjXXmPhr"
    "ISXZtBsYEpH6Ap4VeZG1nFQbUElU/1JpWgeSp7BPNv0rGI05vcT8GKOCKJnP208A5lIKiIB/grzIgqvgljqbndgr7O6cdJ/O"
    "G3D25HqXXIn7Nqio3THj98qLzgkrHAGP4K/SJWBD8ZcMv64q6rydKX1klY0VQwbuBXUQYVVKB0Zf/yvlzFQPfhsicJW1HtWZ"
    "RjpsNF8FqdTl2j/q5VQl1niXiic2iwPdI0rb8EgfkS6nDOfXYfvp0g=="
)


def test_alipay_response_is_verified_over_the_raw_node_text():
    reply = (
        '{"alipay_trade_precreate_response": '
        + ALIPAY_NODE
        + ',"sign":"'
        + ALIPAY_RESPONSE_SIGNATURE
        + '"}'
    )
    raw, node, signature = alipay_rsa2.split_response(reply, "alipay.trade.precreate")
    assert raw == ALIPAY_NODE
    assert node["qr_code"] == "https://qr.alipay.com/bax03206ug0kulveltqc80a8"
    assert alipay_rsa2.verify_response(raw, signature, PUBLIC)
    assert not alipay_rsa2.verify_response(raw.replace("10000", "10001"), signature, PUBLIC)


ALIPAY_NOTICE = {
    "notify_time": "2026-11-21 12:00:01",
    "notify_type": "trade_status_sync",
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "app_id": "2014072300007148",
    "trade_no": "2026112122001405661444300123",
    "out_trade_no": "6141161365682511",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "88.88",
    "gmt_payment": "2026-11-21 12:00:00",
    "buyer_logon_id": "",
    "sign_type": "RSA2",
    "sign": (
        "hIyyG07106bdfp5QuDr2mUHyTFJjNlYVjzf3zm/f/1WidP0KZKf/sV/MyIUl/BvmKe6p9u9bUYCqy5tvFoPbkEoEk9N5"
        "G7rcW/lRD1RYbfbhLQDGcU+bwI8PEoI4DJ8vQOCPQmrG5nE9wqBXlDKvH03IYn2b0DQO0aXddpHg4QBK9rtmeqopRtrE"
        "YFz++YWm9eC5UgSXdFi3DBIuSeHmJ7wFbFLXAIp2X+Ntj7VObFIpEm2YHmwX8LXp+KZ7DokGIWky9sFw4R3f2mD36s2G"
        "ihA4quteb19KedIdbR88P/H2kR/WfTujOt6eFV1e1FoUcRU4UrXfYpn/CvpOpQ729Q=="
    ),
}


def test_alipay_notice_verification():
    assert alipay_rsa2.verify_notice(ALIPAY_NOTICE, PUBLIC)
    assert not alipay_rsa2.verify_notice({**ALIPAY_NOTICE, "total_amount": "8.88"}, PUBLIC)
    assert not alipay_rsa2.verify_notice({**ALIPAY_NOTICE, "sign": ""}, PUBLIC)


def test_keys_load_from_pem_and_bare_base64():
    pem = (DATA / "tsk-test-private.pem").read_text()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    assert rsa_sha256.load_private_key(body).private_numbers() == PRIVATE.private_numbers()
    public_pem = (DATA / "tsk-test-public.pem").read_text()
    public_body = "".join(line for line in public_pem.splitlines() if "-----" not in line)
    assert rsa_sha256.load_public_key(public_body).public_numbers() == PUBLIC.public_numbers()
    with pytest.raises(ValueError):
        rsa_sha256.load_private_key("bm90IGEga2V5")

"""How money actually arrives: one connector per payment channel, behind `base.Channel`.

`sandbox` (the default, the hosted cashier), `wechatpay` (WeChat Pay v3
Native) and `alipay` (Alipay precreate). Connectors are stateless; `connector`
builds one for a deployment. Services call them, never dialects.
"""

from __future__ import annotations

from paymux.channels.alipay import AlipayChannel
from paymux.channels.base import Channel
from paymux.channels.sandbox import SandboxChannel
from paymux.channels.wechatpay import WechatPayChannel

SANDBOX = "sandbox"
LIVE_CHANNELS = ("wechatpay", "alipay")
# A paymodule payment method → the live connector that serves it when configured.
LIVE_FOR_METHOD = {"WECHAT": "wechatpay", "ALIPAY": "alipay"}


def connector(name: str, public_base_url: str) -> Channel:
    """The connector called `name`; KeyError for a channel paymux does not have."""
    if name == SANDBOX:
        return SandboxChannel(public_base_url)
    if name == "wechatpay":
        return WechatPayChannel()
    if name == "alipay":
        return AlipayChannel()
    raise KeyError(name)

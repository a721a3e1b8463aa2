"""The sandbox's pay and fail endpoints (served in front of Litestar's router, with the order
number from the path): their answers and refusals in the API's own `{"error": …}` shape."""

from __future__ import annotations

import httpx

from tests.vpay.conftest import unchanged


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["x-request-id"]


def test_pay_and_fail_answer_with_the_order(server, vpay):
    paid = vpay.create_order("SB-1", 250)["order_id"]
    failed = vpay.create_order("SB-2", 250)["order_id"]
    one = server.sandbox_pay(paid)
    assert one.status_code == 200, one.text
    assert one.json() == {
        "platform_order_no": paid,
        "status": "PAID",
        "amount": 250,
        "currency": "CNY",
        "dialect": "vpay",
    }
    assert server.sandbox_fail(failed).json()["status"] == "FAILED"
    assert vpay.query_order(order_id=paid)["status"] == 1
    assert vpay.query_order(order_id=failed)["status"] != 1


def test_refusals_change_nothing(server, vpay):
    order = vpay.create_order("SB-3", 250)["order_id"]
    paid = vpay.create_order("SB-4", 250)["order_id"]
    assert server.sandbox_pay(paid).status_code == 200
    with unchanged(server):
        url = f"{server.base_url}/sandbox/v1/orders/{order}/pay"
        _error(httpx.post(url), 401, "unauthorized")
        for wrong in ("Bearer nope", f"Basic {server.admin_token}", server.admin_token):
            _error(httpx.post(url, headers={"Authorization": wrong}), 401, "unauthorized")
        _error(server.sandbox_pay("NO-SUCH-ORDER"), 404, "order_not_found")
        _error(server.sandbox_pay(paid), 409, "order_invalid_status")
        _error(server.sandbox_fail(paid), 409, "order_invalid_status")
        empty = server.admin("POST", "/sandbox/v1/orders//pay")
        assert empty.status_code == 404
    assert vpay.query_order(order_id=order)["status"] == 0
    lower = httpx.post(url, headers={"authorization": f"bearer  {server.admin_token}"})
    assert lower.status_code == 200, lower.text

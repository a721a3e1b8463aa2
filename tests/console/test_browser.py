"""The console in a real browser (Playwright + Debian's chromium): what an operator does.

One browser for the module, one server, SQLite only: these tests exercise the
pages, forms and scripts, which do not depend on the database; every action
is also tested over HTTP on both databases (test_actions, test_security).
Screenshots of the main pages land in docs/screenshots/, rewritten only when
the page's text changed in more than its numbers (see `shoot`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paymux.services import orders, withdrawals
from tests.console.conftest import PASSWORD, World, make_world
from tests.harness import Server, run_server

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("browser"), "sqlite") as srv:
        yield srv


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    return make_world(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def _signed_in(browser: Any, world: World, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() prompts of actions
    page.goto(world.server.base_url + "/console/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console/?$"))
    return page


def _fingerprint(text: str) -> str:
    """The page's words without its numbers, ids, keys and times, which change on every run."""
    words = re.sub(r"\S*\d\S*|\S{20,}", "#", text)
    return hashlib.sha256(" ".join(words.split()).encode()).hexdigest()


def shoot(page: Any, name: str, volatile: str = "") -> None:
    """Keep a screenshot as docs/screenshots/<name>.png, rewritten only on a meaningful change.

    `volatile` selects parts whose text depends on timing (how many retries
    happened so far) and so does not count.
    """
    SHOTS.mkdir(parents=True, exist_ok=True)
    index_path = SHOTS / "fingerprints.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    text = page.evaluate(
        """(volatile) => {
            const body = document.body.cloneNode(true);
            if (volatile) body.querySelectorAll(volatile).forEach((node) => node.remove());
            return body.innerText;
        }""",
        volatile,
    )
    digest = _fingerprint(text)
    target = SHOTS / f"{name}.png"
    if index.get(name) == digest and target.exists():
        return
    page.screenshot(path=str(target), full_page=True)
    index[name] = digest
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def test_an_operator_works_through_the_console(browser: Any, world: World) -> None:
    server = world.server
    login = browser.new_page()
    login.goto(server.base_url + "/console/orders")
    assert "/console/login" in login.url
    shoot(login, "login")
    login.close()

    page = _signed_in(browser, world, world.admin)
    assert page.locator("svg.chart rect").count() == 14
    shoot(page, "dashboard")

    # Find an order by its merchant order no, then refund part of it.
    target = world.paid[2]
    merchant_no = server.ctx.store.read_sync(orders.get_by_no, target).merchant_order_no
    page.click("nav >> text=Orders")
    shoot(page, "orders")
    page.fill("input[name=number]", merchant_no)
    page.click("form.filters button[type=submit]")
    page.click(f"a:text('{target}')")
    page.wait_for_url(f"**/console/orders/{target}")
    shoot(page, "order")
    page.fill("input[name=amount]", "12.34")
    page.fill("input[name=reason]", "customer asked")
    page.click("button:text('Refund')")
    page.wait_for_selector("text=The refund was created.")
    assert server.ctx.store.read_sync(orders.get_by_no, target).refunded_amount == 1_234

    # Approve the withdrawal waiting for review.
    page.click("nav >> text=Withdrawals")
    shoot(page, "withdrawals")
    page.locator("tr", has_text=world.withdrawal_no).locator("button:text('Approve')").click()
    page.wait_for_selector("text=The withdrawal was approved")
    status = server.ctx.store.read_sync(withdrawals.get_by_no, world.withdrawal_no).status
    assert status != "PENDING"

    # Redeliver the notification that keeps failing.
    page.click("nav >> text=Notifications")
    row = page.locator("tr", has_text=world.paid[3])
    row.locator("input[type=checkbox]").check()
    shoot(page, "notifications", volatile="tbody td:last-child")
    page.click("button:text('Redeliver selected')")
    page.wait_for_selector("text=will be delivered at once")
    page.goto(server.base_url + f"/console/orders/{world.paid[3]}")
    page.click("a:text-matches('^#\\\\d+$')")
    shoot(page, "notification", volatile="table.log tbody")

    # Rotate the merchant's vpay secret: shown once.
    page.goto(server.base_url + f"/console/merchants/{world.merchant_id}")
    shoot(page, "merchant", volatile="details pre")  # the platform key of this run
    page.locator("tr", has_text="vpay").locator("button:text('Rotate')").click()
    page.wait_for_selector("text=shown this once")
    key_id, secret = page.locator("code.secret").all_inner_texts()
    assert key_id == world.merchant_id and re.fullmatch(r"[0-9a-f]{32}", secret)

    page.click("nav >> text=Accounts & ledger")
    page.click("button:text('Run the ledger check')")
    page.wait_for_selector("text=Ledger clean")
    shoot(page, "ledger")
    page.click("nav >> text=Audit log")
    for action in ("order.refund", "withdrawal.approve", "notification.redeliver"):
        assert page.locator("td", has_text=action).count() >= 1, action
    shoot(page, "audit")
    page.goto(server.base_url + "/console/simulator")
    shoot(page, "simulator")
    page.context.close()


def test_a_viewer_cannot_act(browser: Any, world: World) -> None:
    page = _signed_in(browser, world, world.viewer)
    page.goto(world.server.base_url + f"/console/orders/{world.pending}")
    close = page.locator("button:text('Close order')")
    assert close.is_disabled()
    # Even with the button forced on, the server refuses.
    close.evaluate("button => { button.disabled = false; }")
    close.click()
    page.wait_for_selector("text=this action needs the admin role")
    assert world.server.ctx.store.read_sync(orders.get_by_no, world.pending).status == "PENDING"
    page.context.close()

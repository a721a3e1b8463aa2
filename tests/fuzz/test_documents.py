"""The OpenAPI documents are served, and describe exactly the routes each dialect has.

schemathesis only tests what a document lists, so a route added to a dialect
without a line in its document would never be fuzzed: this test fails first.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from paymux.app import create_app
from paymux.config import Settings
from paymux.context import build_context
from paymux.openapi import DOCUMENTS
from tests.harness import Server

PLACEHOLDER = re.compile(r"\{[^}]*\}")


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """(method, path) of every route of the assembled app, placeholders blanked."""
    ctx = build_context(Settings(data_dir=Path(tmp_path_factory.mktemp("routes"))))
    try:
        app = create_app(ctx)
        return {
            (method, PLACEHOLDER.sub("{}", route.path))
            for route in app.routes
            for method in getattr(route, "methods", ())
            if method not in ("OPTIONS", "HEAD")
        }
    finally:
        ctx.close()


@pytest.mark.parametrize("dialect", sorted(DOCUMENTS))
def test_document_lists_every_route(routes: set[tuple[str, str]], dialect: str) -> None:
    document = DOCUMENTS[dialect]("http://paymux.example")
    base = urlsplit(document["servers"][0]["url"]).path
    documented = {
        (method.upper(), PLACEHOLDER.sub("{}", base + path))
        for path, operations in document["paths"].items()
        for method in operations
    }
    prefix = "/api/pay/" if dialect == "paymodule" else base + "/"
    served = {route for route in routes if route[1].startswith(prefix)}
    if dialect == "paymodule":
        served |= {route for route in routes if route[1] == "/api/health"}
    assert documented == served


@pytest.mark.parametrize("dialect", sorted(DOCUMENTS))
def test_document_is_served(server: Server, dialect: str) -> None:
    response = httpx.get(f"{server.base_url}/openapi/{dialect}.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"][0]["url"].startswith(server.base_url)


def test_unknown_document_is_404(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/openapi/nope.json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

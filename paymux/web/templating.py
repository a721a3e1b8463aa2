"""One Jinja environment for every page, autoescaping on."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Response

TEMPLATES = Path(__file__).parent / "templates"

jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def render(name: str, status: int = 200, **context: Any) -> Response[str]:
    return Response(
        jinja.get_template(name).render(**context),
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:;"
            " style-src 'self' 'unsafe-inline'; script-src 'self' "
            "'unsafe-inline'; frame-ancestors 'none'; form-action *",
        },
    )


def qr_svg_data_uri(content: str) -> str:
    """A QR code of `content` as an inline SVG data URI (no extra request, no JS)."""
    svg = segno.make(content, error="m").svg_inline(scale=5)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()

"""The dashboard: today's numbers per dialect and channel, and a 14-day chart as inline SVG.

The chart is computed here as coordinates and drawn by the template as plain
SVG: no charting library, no script, and it passes the console's strict CSP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from litestar import Request, Response, get

from paymux.services import console_queries as q
from paymux.web.console.auth import signed_in
from paymux.web.console.common import Fmt, day_bounds, page, today

DAYS = 14
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 220, 56, 28, 12


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the day, MM-DD
    title: str  # the tooltip


@dataclass(frozen=True, slots=True)
class Chart:
    currency: str
    bars: list[Bar]
    rate_points: str  # SVG polyline points of the success rate (0..100% over the plot height)
    max_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    top: int = PAD_TOP
    bottom: int = HEIGHT - PAD_BOTTOM


def chart(days: list[q.Breakdown], labels: list[str], fmt: Fmt) -> Chart:
    """Bars of the paid volume in the busiest currency, a line of the success rate."""
    totals: dict[str, int] = {}
    for d in days:
        for currency, amount in d.volume.items():
            totals[currency] = totals.get(currency, 0) + amount
    currency = max(totals, key=lambda c: totals[c]) if totals else "CNY"
    top = max((d.volume.get(currency, 0) for d in days), default=0)
    peak = top or 1
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / len(days)
    bars, points = [], []
    for i, (d, label) in enumerate(zip(days, labels, strict=True)):
        volume = d.volume.get(currency, 0)
        h = plot_h * volume / peak
        x = PAD_LEFT + i * step
        rate = d.success_rate
        title = f"{label}: {fmt.money(volume, currency)}, {d.paid}/{d.ended} paid"
        bars.append(Bar(x + step * 0.15, PAD_TOP + plot_h - h, step * 0.7, h, label, title))
        if rate is not None:
            points.append(f"{x + step / 2:.1f},{PAD_TOP + plot_h * (1 - rate):.1f}")
    return Chart(currency, bars, " ".join(points), fmt.money(top, currency))


@get("/")
async def dashboard(request: Request) -> Response[str]:
    ctx, session = await signed_in(request)
    tz = ctx.settings.tz
    day = today(ctx)
    since, until = day_bounds(day, tz)
    board = await ctx.store.read(q.dashboard, since, until)
    periods = []
    for back in range(DAYS - 1, -1, -1):
        when = day - timedelta(days=back)
        start, end = day_bounds(when, tz)
        periods.append((when.strftime("%m-%d"), start, end))
    days = await ctx.store.read(q.series, periods)
    return page(
        ctx,
        session,
        "dashboard.html",
        section="dashboard",
        board=board,
        day=day,
        chart=chart(days, [p[0] for p in periods], Fmt(tz)),
    )

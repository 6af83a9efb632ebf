"""The suite's report: markdown tables and a chart of latency percentiles.

The chart is drawn with matplotlib, the optional ``bench`` extra (``pip install -e
'.[bench]'``, which ``make bench`` does); without it the report has no chart and says so.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

PERCENTILE_COLORS = ("#4c78a8", "#f58518", "#e45756")


def chart_available() -> bool:
    """Whether matplotlib (the ``bench`` extra) is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def latency_chart(
    rows: Sequence[tuple[str, Sequence[float]]],
    *,
    series: Sequence[str] = ("p50", "p95", "p99"),
    title: str = "latency percentiles per scenario (ms, log scale)",
    width: int = 1200,
    height: int = 480,
) -> bytes:
    """A PNG of grouped bars on a log axis: one group per ``(label, [value per series])``
    row; values of 0 (no reading) are left out."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    axes = figure.subplots()
    bar = 0.8 / max(1, len(series))
    for j, (name, color) in enumerate(zip(series, PERCENTILE_COLORS, strict=False)):
        xs = [i + (j - (len(series) - 1) / 2) * bar for i in range(len(rows))]
        values = [vs[j] if j < len(vs) and vs[j] > 0 else math.nan for _, vs in rows]
        axes.bar(xs, values, width=bar, color=color, label=name)
    axes.set_yscale("log")
    axes.set_xticks(range(len(rows)), [label for label, _ in rows], rotation=30, ha="right")
    axes.set_ylabel("ms")
    axes.set_title(title)
    axes.grid(axis="y", which="both", color="#dddddd", linewidth=0.5)
    axes.set_axisbelow(True)
    axes.legend(loc="upper left")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table; ``|`` inside cells is escaped."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus's ``histogram_quantile``: ``buckets`` are cumulative ``(le, count)``,
    ``+Inf`` last; linear interpolation inside the bucket holding the rank."""
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            width = count - lower_count
            if width <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / width
        lower_bound, lower_count = bound, count
    return lower_bound

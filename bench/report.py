"""The suite's report: a markdown table and a PNG chart of latency percentiles.

No plotting library: ``png_bytes`` writes an RGB PNG with zlib (filter 0 on every row),
and ``Canvas`` draws rectangles and text in a 5x7 bitmap font, enough for a bar chart.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

Color = tuple[int, int, int]

WHITE: Color = (255, 255, 255)
BLACK: Color = (30, 30, 30)
GRID: Color = (220, 220, 220)
PERCENTILE_COLORS: tuple[Color, ...] = ((76, 120, 168), (245, 133, 24), (228, 87, 86))

# 5x7 glyphs: seven rows, five bits each, the high bit leftmost. Lower case draws as upper.
_FONT: dict[str, tuple[int, ...]] = {
    " ": (0, 0, 0, 0, 0, 0, 0),
    "0": (0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E),
    "1": (0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "2": (0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F),
    "3": (0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E),
    "4": (0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02),
    "5": (0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E),
    "6": (0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E),
    "7": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08),
    "8": (0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E),
    "9": (0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C),
    "A": (0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11),
    "B": (0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E),
    "C": (0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E),
    "D": (0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C),
    "E": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F),
    "F": (0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10),
    "G": (0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F),
    "H": (0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11),
    "I": (0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E),
    "J": (0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C),
    "K": (0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11),
    "L": (0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F),
    "M": (0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11),
    "N": (0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11),
    "O": (0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "P": (0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10),
    "Q": (0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D),
    "R": (0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11),
    "S": (0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E),
    "T": (0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04),
    "U": (0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E),
    "V": (0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04),
    "W": (0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A),
    "X": (0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11),
    "Y": (0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04),
    "Z": (0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F),
    ".": (0, 0, 0, 0, 0, 0x0C, 0x0C),
    ",": (0, 0, 0, 0, 0x0C, 0x04, 0x08),
    ":": (0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0),
    "-": (0, 0, 0, 0x1F, 0, 0, 0),
    "/": (0, 0x01, 0x02, 0x04, 0x08, 0x10, 0),
    "(": (0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02),
    ")": (0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08),
    "%": (0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03),
    "=": (0, 0, 0x1F, 0, 0x1F, 0, 0),
    "+": (0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0),
}
GLYPH_W, GLYPH_H = 5, 7


def png_bytes(width: int, height: int, rgb: bytes) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (rows top to bottom, 3 bytes a pixel)."""
    if len(rgb) != width * height * 3:
        raise ValueError("pixel data does not match the size")
    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


class Canvas:
    def __init__(self, width: int, height: int, background: Color = WHITE) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill the pixels x0 <= x < x1, y0 <= y < y1 (clipped)."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        if x0 >= x1:
            return
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, text: str, color: Color = BLACK, scale: int = 2) -> None:
        for i, char in enumerate(text.upper()):
            glyph = _FONT.get(char, _FONT[" "])
            left = x + i * (GLYPH_W + 1) * scale
            for row, bits in enumerate(glyph):
                for col in range(GLYPH_W):
                    if bits & (1 << (GLYPH_W - 1 - col)):
                        top = y + row * scale
                        self.rect(
                            left + col * scale, top, left + (col + 1) * scale, top + scale, color
                        )

    @staticmethod
    def text_width(text: str, scale: int = 2) -> int:
        return len(text) * (GLYPH_W + 1) * scale - scale

    def png(self) -> bytes:
        return png_bytes(self.width, self.height, bytes(self.pixels))


def _tick_label(value: float) -> str:
    return f"{value:g}" if value >= 1 else f"{value:.3g}"


def latency_chart(
    rows: Sequence[tuple[str, Sequence[float]]],
    *,
    series: Sequence[str] = ("p50", "p95", "p99"),
    title: str = "latency percentiles per scenario (ms, log scale)",
    width: int = 960,
    height: int = 480,
) -> bytes:
    """Grouped bars on a log axis: one group per ``(label, [value per series])`` row."""
    canvas = Canvas(width, height)
    left, right, top, bottom = 80, 20, 60, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in rows for v in vs if v > 0]
    low = 10 ** math.floor(math.log10(min(values))) if values else 0.1
    high = 10 ** math.ceil(math.log10(max(values))) if values else 10.0
    if high <= low:
        high = low * 10
    span = math.log10(high) - math.log10(low)

    def y_of(value: float) -> int:
        value = min(max(value, low), high)
        return top + plot_h - round((math.log10(value) - math.log10(low)) / span * plot_h)

    canvas.text(left, 16, title)
    decade = low
    while decade <= high * 1.0001:
        for step in (1, 2, 5):
            tick = decade * step
            if tick > high * 1.0001:
                break
            y = y_of(tick)
            canvas.rect(left, y, left + plot_w, y + 1, GRID)
            if step == 1:
                label = _tick_label(tick)
                canvas.text(left - 8 - Canvas.text_width(label), y - 7, label)
        decade *= 10
    canvas.rect(left, top, left + 1, top + plot_h + 1, BLACK)
    canvas.rect(left, top + plot_h, left + plot_w, top + plot_h + 1, BLACK)
    # Legend, top right.
    x = width - right - 90 * len(series)
    for name, color in zip(series, PERCENTILE_COLORS, strict=False):
        canvas.rect(x, 38, x + 14, 52, color)
        canvas.text(x + 20, 38, name)
        x += 90
    if rows:
        group = plot_w / len(rows)
        bar = max(2, int(group * 0.7 / max(1, len(series))))
        for i, (label, vs) in enumerate(rows):
            start = left + int(i * group + (group - bar * len(vs)) / 2)
            for j, value in enumerate(vs):
                if value <= 0:
                    continue
                color = PERCENTILE_COLORS[j % len(PERCENTILE_COLORS)]
                canvas.rect(
                    start + j * bar, y_of(value), start + (j + 1) * bar - 1, top + plot_h, color
                )
            center = left + int(i * group + group / 2)
            canvas.text(center - Canvas.text_width(label) // 2, top + plot_h + 14, label)
    return canvas.png()


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

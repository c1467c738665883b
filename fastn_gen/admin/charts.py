"""Bar charts as plain data for the templates to draw as inline SVG.

Geometry is computed here so the templates only place rectangles and labels; no
script runs in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

BAR_HEIGHT = 18
BAR_GAP = 8
LABEL_WIDTH = 260
BAR_WIDTH = 320
VALUE_WIDTH = 150


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    used: int
    limit: int | None  # None: counted, not limited
    y: int
    width: float  # of the filled part, in px
    level: str  # ok, warn, full (css class)
    caption: str


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    height: int
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH
    value_width: int = VALUE_WIDTH

    @property
    def width(self) -> int:
        return self.label_width + self.bar_width + self.value_width


def _level(used: int, limit: int | None) -> str:
    if limit is None:
        return "count"
    if limit == 0 or used >= limit:
        return "full"
    return "warn" if used >= 0.8 * limit else "ok"


def bar_chart(title: str, rows: list[tuple[str, int, int | None]]) -> BarChart:
    """One bar per ``(label, used, limit)``: limited bars fill used/limit of the width;
    unlimited ones are scaled against the largest count in the chart."""
    largest = max((used for _, used, limit in rows if limit is None), default=0)
    bars = []
    for index, (label, used, limit) in enumerate(rows):
        if limit is not None:
            share = 1.0 if limit == 0 else min(1.0, used / limit)
            caption = f"{used} / {limit}"
        else:
            share = used / largest if largest else 0.0
            caption = f"{used} (no limit)"
        bars.append(
            Bar(
                label=label,
                used=used,
                limit=limit,
                y=index * (BAR_HEIGHT + BAR_GAP),
                width=round(share * BAR_WIDTH, 1),
                level=_level(used, limit),
                caption=caption,
            )
        )
    height = max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP)
    return BarChart(title=title, bars=tuple(bars), height=height)

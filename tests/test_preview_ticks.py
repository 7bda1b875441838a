"""The preview's y-axis labels differ from each other, however flat the series (the refreshed images showed
"-566.67%" three times on the SLO dashboard and "1, 1, 0" on OOM kills). Labels written by hand."""

from __future__ import annotations

import re

from promspec.preview.html import _timeseries_svg, axis_labels


def _ticks(values: list[float], unit: str, decimals: int | None) -> list[str]:
    series = [{"values": [(i * 15.0, v) for i, v in enumerate(values)]}]
    svg = _timeseries_svg(series, 400, 200, unit, decimals)
    return re.findall(r'text-anchor="end">([^<]*)</text>', svg)  # bottom, middle, top


def test_a_nearly_flat_negative_budget_gets_the_decimals_that_tell_its_ticks_apart():
    # SLO "error budget remaining" in breach: -566.6667% give or take a rounding error.
    assert _ticks([-5.66668, -5.66667, -5.66666], "percentunit", None) == ["-566.668%", "-566.667%", "-566.666%"]


def test_a_count_shown_without_decimals_gets_one_when_its_ticks_would_repeat():
    # OOM kills: increase() over the rate interval extrapolates one kill to 1.07; decimals 0 read "0, 1, 1".
    assert _ticks([0.0, 1.07, 0.0], "none", 0) == ["0.0", "0.5", "1.1"]


def test_ticks_that_already_differ_keep_the_panels_own_decimals():
    assert _ticks([0.0, 4.0], "none", 0) == ["0", "2", "4"]
    assert _ticks([0.0, 0.3], "s", None) == ["0 s", "150 ms", "300 ms"]
    assert _ticks([0.2, 0.9], "percentunit", None) == ["0.00%", "45.00%", "90.00%"]


def test_a_series_flat_beyond_every_precision_widens_the_axis_around_it():
    assert axis_labels(-5.6666666667, -5.6666666666, "percentunit", None) is None
    assert _ticks([-5.6666666667, -5.6666666666], "percentunit", None) == ["-595.00%", "-566.67%", "-538.33%"]

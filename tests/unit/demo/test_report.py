"""The report's pieces that carry judgement: who wins a metric, and the charts' scales."""

from doppel.demo.report import _winner
from doppel.demo.svg import Series, _ticks, line_chart


def test_the_better_score_is_the_one_shaded():
    assert _winner(0.8, 0.5, "higher") == "doppel"
    assert _winner(0.8, 0.5, "lower") == "classic"
    assert _winner(0.9, 1.3, "nearer 1") == "doppel"  # 0.1 from 1 against 0.3
    assert _winner(0.5, 1.2, "nearer 1") == "classic"
    assert _winner(float("nan"), 0.5, "higher") is None
    assert _winner(0.5, 0.5, "higher") is None


def test_chart_ticks_cover_the_range_in_round_steps():
    assert _ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    assert _ticks(0, 48)[:3] == [0, 10, 20]


def test_a_line_chart_is_an_svg_with_each_series_and_its_label():
    svg = line_chart([Series("source", "#00f", [(0, 1.0), (1, 0.5)]),
                      Series("target <b>", "#f00", [(0, 0.9), (1, 0.4)])], "minutes", "loss")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2 and "target &lt;b&gt;" in svg
    assert line_chart([], "x", "y") == "<p>(no data)</p>"

"""``scc replay --plot``: what the figure says (day, settings, labelled limits, the grid's band
and mean) and the arithmetic behind the grid's band and its smoothed line."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from common.config import Config
from scc.plot import bin_day, day_text, draw_day, settings_text, trailing_means
from scc.replay import DaySeries, ReplayOptions, replay
from sim.profiles import Profile

MAY_18_2026_10H_UTC = 1_779_098_400


def test_trailing_means_are_the_controllers_window_at_each_bin_end() -> None:
    values = [float(v) for v in range(10)]  # 0..9
    # Bins of 4 end at 3, 7, 9; the window of 3 covers (1,2,3), (5,6,7), (7,8,9).
    assert trailing_means(values, window=3, n=4) == [2.0, 6.0, 8.0]
    # At the start the window is shorter: the mean of what there is.
    assert trailing_means(values, window=100, n=5) == [2.0, 4.5]


def test_the_grid_band_spans_each_seconds_values_and_the_line_is_the_mean() -> None:
    # PV 5 kW, house 300 W, the car 4 kW, and a kettle of 2 kW for 5 s in the first 30 s.
    house = [300.0] * 60
    house[10:15] = [2300.0] * 5
    s = DaySeries(36_000, [5000.0] * 60, house, [4000.0] * 60, [6] * 60)
    b = bin_day(s, window_s=60, n=30)
    assert b.hours == [10.0, pytest.approx(10 + 30 / 3600)]
    assert b.grid_low == [-0.7, -0.7] and b.grid_high == [1.3, -0.7]
    # Trailing 60 s means: (25 x -700 + 5 x 1300) / 30, then (55 x -700 + 5 x 1300) / 60.
    assert b.grid_mean == [pytest.approx(-11000 / 30 / 1000), pytest.approx(-32000 / 60 / 1000)]
    assert b.amps == [6.0, 6.0]


def test_the_day_is_named_by_its_date_or_as_having_none() -> None:
    recorded = DaySeries(MAY_18_2026_10H_UTC, [0.0], [0.0], [0.0], [None])
    assert day_text(recorded) == "Monday 18 May 2026"
    assert day_text(DaySeries(36_000, [0.0], [0.0], [0.0], [None])) == (
        "a day without a date (the file gives the time of day only)"
    )


def test_the_settings_line_names_the_connection_and_every_delay() -> None:
    c = Config().with_overrides({"charging.voltage_v": 230}).charging
    charging = {"watts_per_amp": 398.4, "min_current_a": 6, "max_current_a": 16,
                "interval_s": 60.0, "window_s": 60.0, "start_delay_s": 180.0,
                "stop_delay_s": 600.0}  # fmt: skip
    text = settings_text(charging, c, 15.0)
    assert text.startswith("Replayed ") and text.endswith(
        " with: grid 3 phases at 230 V (398.4 W/A), so 6 A = 2.39 kW; current 6-16 A; "
        "window 60 s, cycle 60 s; start delay 180 s, stop delay 600 s; "
        "charger follows commands after 15 s"
    )
    override = Config().with_overrides({"charging.watts_per_amp": 500}).charging
    perfect = {"watts_per_amp": 500.0, "min_current_a": 6, "max_current_a": 10}
    assert settings_text(perfect, override, None).endswith(
        " with: grid 500 W/A, so 6 A = 3.00 kW; current 6-10 A"
    )


def test_the_figure_says_which_day_with_which_settings_and_labels_the_limits() -> None:
    pv = tuple(6000.0 if (t % 600) < 400 else 1500.0 for t in range(3600))
    day = Profile("may18", MAY_18_2026_10H_UTC, pv, (400.0,) * 3600)
    config = Config()
    result = replay(day, config, ReplayOptions(latency_s=20.0))
    fig = draw_day(result, config.charging, 20.0)
    try:
        top, bottom = fig.axes
        title = top.get_title(loc="left")
        assert title.startswith("may18, Monday 18 May 2026: policy default\nEV ")
        labels = [t.get_text() for t in top.get_legend().get_texts()]
        assert labels == ["PV", "EV (charger draw)", "house load",
                          "grid, each second (+ import / - export)",
                          "grid, 15 s mean (what the controller sees)"]  # fmt: skip
        assert {t.get_text() for t in bottom.texts} == {"min 6 A", "max 16 A"}
        [footer] = [t.get_text() for t in fig.texts]
        assert "grid 3 phases at 400 V (692.8 W/A), so 6 A = 4.16 kW" in footer
        assert "start delay 60 s, stop delay 180 s; charger follows commands after 20 s" in footer
        assert bottom.get_xlabel() == "time of day (h, UTC)"
    finally:
        plt.close(fig)

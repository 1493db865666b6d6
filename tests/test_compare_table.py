"""The realistic bench's table: ours against the peers, and ours alone."""

from __future__ import annotations

from typing import Any

from bench.realistic.compare import table


def result(policy: str, solar_kwh: float, share: float, starts: int) -> dict[str, Any]:
    return {
        "day": "jun-broken",
        "grid": "3p",
        "policy": policy,
        "ev_solar_kwh": solar_kwh,
        "ev_kwh": solar_kwh / share,
        "solar_share": share,
        "starts": starts,
        "captured": solar_kwh / 20.0,
        "limit_solar_kwh": 20.0,
    }


def test_ours_against_both_peers_is_judged() -> None:
    rows = [
        result("default", 20.6, 0.90, 9),
        result("seed", 19.0, 0.82, 37),
        result("evcc", 21.0, 0.89, 9),
    ]
    lines = table(rows, ["jun-broken"])
    assert lines[2] == (
        "| jun-broken 3p | 103% / 90% / 9 | 95% / 82% / 37 | 105% / 89% / 9 | 20.0 | ok |"
    )
    assert lines[-1] == "\n0 day/grid pairs miss the goal"


def test_ours_alone_is_printed_not_judged() -> None:
    """``--policies default`` replays ours only: the table raised a KeyError on the missing
    peers and printed nothing after its heading."""
    lines = table([result("default", 20.6, 0.90, 9)], ["jun-broken"])
    assert lines[2] == "| jun-broken 3p | 103% / 90% / 9 | - | - | 20.0 | - |"
    assert lines[-2:] == [
        "\n0 day/grid pairs miss the goal",
        "1 not judged: the goal needs both peers (--policies seed evcc)",
    ]

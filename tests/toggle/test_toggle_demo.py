"""``scc demo``'s phone page tells simulated time, like everything else in the demo: the footer's
"Updated" comes from the clock create_app is given (the demo's simulated one), not the phone's."""

from __future__ import annotations

import re
import urllib.request
from datetime import datetime

from tests.sim.test_demo import Demo, free_port, get_json
from toggle_app.text import clock_time


def seconds_of_day(hh: str, mm: str, ss: str = "0") -> int:
    return int(hh) * 3600 + int(mm) * 60 + int(ss)


def test_the_demo_page_footer_shows_the_simulated_time(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = Demo(tmp_path, "--speed", "100", "--port", str(port), "--duration", "30")
    try:
        start = demo.wait_for(r"a simulated \S+ day from (\d\d):(\d\d)")
        demo.wait_for(rf"phone page:\s+http://127\.0\.0\.1:{port}/")
        with urllib.request.urlopen(base + "/", timeout=5) as r:
            page = r.read().decode()
        status = get_json(base + "/api/status")
    finally:
        demo.stop()
    sim_now = datetime.fromisoformat(status["now"].replace("Z", "+00:00"))
    assert status["display"]["updated"] == f"Updated {clock_time(sim_now, seconds=True)}"
    footer = re.search(r'data-d="updated">Updated (\d\d):(\d\d):(\d\d)<', page)
    assert footer, "no simulated time in the footer"
    shown = seconds_of_day(*footer.groups())
    # Between the simulated start and the simulated now of the later status call.
    assert (
        seconds_of_day(*start.groups())
        <= shown
        <= seconds_of_day(*clock_time(sim_now, seconds=True).split(":"))
    )

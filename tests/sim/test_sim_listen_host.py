"""``--host``: the standalone simulators listen where they are told (0.0.0.0 in a container, for
docker-compose.demo.yml) and on the loopback address by default.

Each runs as a real process; the address it bound is read from the kernel's socket table, and
a real HTTP request must get an answer from it.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp
#: Simulator module and the path that answers a plain GET.
SIMULATORS = {"sim.meter": "/api", "sim.wallbox_cloud": "/auth/users"}


def listening_address(port: int) -> str:
    """The local IPv4 address (hex, as the kernel writes it) of the socket listening on port."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _remote, state = line.split()[1:4]
        address, hex_port = local.split(":")
        if state == LISTEN and int(hex_port, 16) == port:
            return address
    raise AssertionError(f"nothing listens on port {port}")


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("module", sorted(SIMULATORS))
@pytest.mark.parametrize(
    ("host_args", "expected"), [(["--host", "0.0.0.0"], "00000000"), ([], "0100007F")]
)
def test_simulator_listens_on_the_host_it_is_given(
    module: str, host_args: list[str], expected: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *host_args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        m = re.search(r" on \S*?:(\d+)", first)
        assert m, f"no port in the first line: {first!r}"
        port = int(m.group(1))
        assert listening_address(port) == expected
        assert 200 <= status_of(f"http://127.0.0.1:{port}{SIMULATORS[module]}") < 500
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out


@pytest.mark.parametrize("module", sorted(SIMULATORS))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_simulator_stops_cleanly_even_started_from_a_background_shell(
    module: str, sig: signal.Signals
) -> None:
    """A shell's ``&`` starts a job with SIGINT ignored, and Docker stops with SIGTERM: the
    simulator must end on both, at once and with exit code 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        assert " on " in proc.stdout.readline()
        proc.send_signal(sig)
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0

"""A throw-away certificate authority for the simulated HomeWizard v2 meter.

Real v2 devices present a certificate signed by HomeWizard's "Appliance Access CA" whose name is
``appliance/p1dongle/<serial>`` rather than a DNS name. To test the client's verification for real
(chain and that odd name, not just ``verify=False``) the simulator needs the same shape of PKI with
a CA we hold the key of. The ``openssl`` command line does the work: it is on every Debian and
macOS machine, and the project then needs no crypto package of its own.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class PkiError(RuntimeError):
    """The test PKI could not be made (no openssl, or openssl failed)."""


@dataclass(frozen=True)
class TestPki:
    ca_cert: Path
    cert: Path
    key: Path
    common_name: str


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise PkiError(
            "the openssl command is needed to make the simulated meter's TLS certificate "
            "(Debian: apt-get install openssl)"
        )
    proc = subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise PkiError(f"openssl {args[0]} failed: {proc.stderr.strip()[-500:]}")


def make_test_pki(directory: str | Path, common_name: str, days: int = 30) -> TestPki:
    """A CA and a server certificate for ``common_name`` (CN only, as HomeWizard's have it)."""
    if "," in common_name or "=" in common_name:
        raise ValueError(f"unsupported certificate name {common_name!r}")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = d / "test-ca.key", d / "test-ca.pem"
    key, csr, cert = d / "meter.key", d / "meter.csr", d / "meter.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(days),
        "-subj", "/O=Solar Car Charge tests/CN=Test Appliance Access CA",
        "-keyout", ca_key.name, "-out", ca_cert.name, cwd=d,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-subj", "/O=HomeWizard/CN=" + common_name.replace("/", "\\/"),
        "-keyout", key.name, "-out", csr.name, cwd=d,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr.name, "-CA", ca_cert.name, "-CAkey", ca_key.name,
        "-CAcreateserial", "-days", str(days), "-sha256", "-out", cert.name, cwd=d,
    )  # fmt: skip
    return TestPki(ca_cert=ca_cert, cert=cert, key=key, common_name=common_name)

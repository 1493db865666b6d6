# Sourced by scripts/test, scripts/demo and scripts/bench: make .venv and install the project.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SCC_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    echo "error: python3 cannot create a virtual environment; install it: sudo apt-get install -y python3-venv" >&2
    exit 2
  fi
fi
stamp="$VENV/.scc-installed-$1"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Solar Car Charge into $VENV ..." >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  if [ "$1" = test ]; then spec='.[test]'; else spec='.'; fi
  log="$VENV/pip-install.log"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1 \
     || ! "$VENV/bin/python" -c "import common, influxdb_client, wallbox, flask, yaml" 2>>"$log"; then
    tail -n 20 "$log" >&2
    echo "error: installing the project into $VENV failed (full log: $log)" >&2
    exit 2
  fi
  touch "$stamp"
fi

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
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 | grep -v "is ignored" >&2 || true
  "$VENV/bin/python" -c "import common, influxdb_client, wallbox, flask, yaml" \
    || { echo "error: installing the project into $VENV failed (see above)" >&2; exit 2; }
  touch "$stamp"
fi

#!/usr/bin/env bash
# A real Synapse for the live tests (tests/live), kept in a venv under .cache/synapse-venv.
#   scripts/synapse.sh install   installs matrix-synapse 1.163.x there unless it is already there
#                                (prints one line when it installs, nothing otherwise)
#   scripts/synapse.sh python    prints the venv's python, the one that runs the homeserver
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SYNAPSE_SERIES=1.163
VENV="$ROOT/.cache/synapse-venv"
PY="$VENV/bin/python"

# The installed version, empty when Synapse is missing. Read from the package metadata: importing
# synapse itself takes seconds.
installed_version() {
  [ -x "$PY" ] || return 0
  "$PY" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null || true
}

install() {
  # Test files run in parallel, each asking for Synapse: one installs, the others wait and find it.
  mkdir -p "$ROOT/.cache"
  if command -v flock >/dev/null; then
    exec 9>"$ROOT/.cache/synapse-install.lock"
    flock 9
  fi
  case "$(installed_version)" in
    "$SYNAPSE_SERIES".*) return 0 ;;
  esac
  echo "synapse: installing matrix-synapse $SYNAPSE_SERIES.x into .cache/synapse-venv (1-2 min)" >&2
  command -v python3 >/dev/null || die "python3 is required for the live tests"
  # A venv left half made by an interrupted install is made again.
  [ -x "$PY" ] || { rm -rf "$VENV" && python3 -m venv "$VENV"; }
  local log="$ROOT/.cache/synapse-install.log"
  if ! "$PY" -m pip install --quiet --disable-pip-version-check \
    "matrix-synapse==$SYNAPSE_SERIES.*" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "pip install matrix-synapse failed (log: $log)"
  fi
  case "$(installed_version)" in
    "$SYNAPSE_SERIES".*) ;;
    *) die "matrix-synapse $SYNAPSE_SERIES.x is still not importable from $VENV" ;;
  esac
}

case "${1:-}" in
  install) install ;;
  python) echo "$PY" ;;
  *) die "usage: scripts/synapse.sh install|python" ;;
esac

#!/usr/bin/env bash
# Create (or reuse) .venv-bench with Evidently for bench/bench_drift.py. Idempotent: it
# does nothing when every pin of bench/requirements-bench.txt is already installed.
# A separate venv because Evidently conflicts with the app's pins (see the requirements file).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-bench
REQ=bench/requirements-bench.txt
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$REQ" <<'PY' 2>/dev/null; then
import importlib.metadata as md, re, sys
pins = re.findall(r"^([\w.-]+)==(\S+)", open(sys.argv[1]).read(), re.M)
sys.exit(0 if all(md.version(name) == version for name, version in pins) else 1)
PY
    exit 0
fi
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=.venv/bin/python
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r "$REQ"

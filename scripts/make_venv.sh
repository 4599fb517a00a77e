#!/usr/bin/env bash
# Create (or reuse) the course's virtual environment and install the pinned dependencies into it.
# Usage: scripts/make_venv.sh VENV_DIR [PYTHON] [EXTRAS]
# EXTRAS: the package's optional dependency groups, comma-separated (default: dev; empty: the learner's
# packages only, as `make lab` asks). The stamp file
# lists the groups installed so far, one per line; asking for one it lacks installs it.
# Every failure ends with one message that says what is missing and how to fix it; pip's own
# output goes to VENV_DIR/install.log, whose last lines are shown only when something failed.
set -uo pipefail

venv=${1:?usage: scripts/make_venv.sh VENV_DIR [PYTHON]}
requested_python=${2:-}
extras=${3-dev}
stamp="$venv/.installed"
log="$venv/install.log"

fail() {
  printf '\n\033[31mSet-up failed:\033[0m %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

supported() { "$1" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; }

# Already set up with these groups, and pyproject.toml unchanged since: nothing to do.
has_extras() {
  local extra
  for extra in ${extras//,/ }; do grep -qxF "$extra" "$stamp" || return 1; done
}
if [[ -f $stamp && $stamp -nt pyproject.toml && ( ! -f tools/pyproject.toml || $stamp -nt tools/pyproject.toml ) &&
      -x $venv/bin/python ]] && has_extras; then
  exit 0
fi

if [[ ! -x $venv/bin/python ]]; then
  python=""
  if [[ -n $requested_python ]]; then
    command -v "$requested_python" >/dev/null 2>&1 ||
      fail "PYTHON=$requested_python was not found." "Give the path of a Python 3.10-3.13 interpreter."
    supported "$requested_python" ||
      fail "PYTHON=$requested_python is $("$requested_python" -V 2>&1), but the course needs Python 3.10-3.13."
    python=$requested_python
  else
    for candidate in python3.12 python3.11 python3.13 python3.10 python3; do
      if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
        python=$candidate
        break
      fi
    done
  fi
  [[ -n $python ]] || fail "No Python 3.10-3.13 found on PATH (TensorFlow 2.21 supports only these)." \
    "Install one (python.org, your package manager, or pyenv), then run make again," \
    "or point to it: make lab PYTHON=/path/to/python3.12"
  echo "Creating $venv with $python ($("$python" -V 2>&1))..."
  "$python" -m venv "$venv" >/dev/null 2>&1 || {
    rm -rf "$venv"
    fail "$python could not create a virtual environment." \
      "On Debian or Ubuntu install the venv module: sudo apt install python3-venv" \
      "(or python3.X-venv for your version), then run make again."
  }
fi

echo "Installing the pinned course packages into $venv (a few minutes the first time; log: $log)..."
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
    -e ".${extras:+[$extras]}" >"$log" 2>&1; then
  echo "--- last lines of $log ---" >&2
  grep -v '^WARNING: Location' "$log" | tail -n 15 >&2
  fail "pip could not install the course's dependencies (see above and $log)." \
    "No network? Connect and run make again." \
    "'No matching distribution found for tensorflow'? Your Python or platform has no TensorFlow 2.21" \
    "wheel: use Python 3.10-3.13 on 64-bit Linux, macOS (Apple silicon) or Windows (WSL2)."
fi
# The dev extra brings the instructor's and maintainer's tools too (tools/: release, grading, figures,
# benchmarks), where this copy has them: a student release does not.
if [[ ,$extras, == *,dev,* && -f tools/pyproject.toml ]] &&
    ! "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off --no-deps \
      -e tools >>"$log" 2>&1; then
  grep -v '^WARNING: Location' "$log" | tail -n 15 >&2
  fail "pip could not install the course's tools (tools/; see above and $log)."
fi
# Remember every group installed (an older stamp's too, when pyproject.toml has not changed since).
{ [[ -f $stamp && $stamp -nt pyproject.toml ]] && cat "$stamp"; tr ',' '\n' <<<"$extras"; } | grep -v '^$' |
  sort -u >"$stamp.new"
mv "$stamp.new" "$stamp"
echo "Set-up done: $venv is ready."

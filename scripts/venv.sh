# Sourced by .ci/run and scripts/demo: make .venv (if needed) and put it first on PATH.
# Everything Python goes into .venv: a distro's python3 is often "externally managed" (PEP 668)
# and refuses pip install outside a venv, and Debian's has no pip at all.
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  clear=""
  .venv/bin/python -c "" 2>/dev/null || clear=--clear # absent, or its python is gone
  if ! python3 -m venv $clear .venv; then
    # Debian and Ubuntu keep venv's pip bootstrap in a package of its own.
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "scripts/venv.sh: python3 -m venv failed; install your distro's python3-venv" >&2
      exit 1
    fi
    apt-get update -qq
    apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv --clear .venv
  fi
fi
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" # tests that run `python` get this one

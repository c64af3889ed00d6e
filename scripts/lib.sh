# shellcheck shell=bash
# Shared helpers for Baton's scripts. Source it; don't run it:
#
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Safe under `set -euo pipefail`. Defines:
#   BATON_ROOT          repository root (found from this file's location, works from any cwd)
#   BATON_VENV          $BATON_ROOT/.venv
#   baton_log MSG       one "==> MSG" line on stderr
#   baton_die MSG       "error: MSG" on stderr, exit 1
#   baton_find_python   print the path of a Python >= 3.12 (override with BATON_PYTHON)
#   baton_venv          create/refresh .venv, install the project when its inputs changed,
#                       and put .venv/bin first on PATH

if [[ -n "${BATON_LIB_LOADED:-}" ]]; then
    return 0
fi
BATON_LIB_LOADED=1

BATON_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BATON_VENV="$BATON_ROOT/.venv"
BATON_MIN_PYTHON="3.12"
# Bump when the install recipe below changes, so existing venvs reinstall once.
BATON_INSTALL_RECIPE="pip install -c requirements.lock -e .[dev] #1"
export BATON_ROOT

baton_log() {
    printf '==> %s\n' "$*" >&2
}

baton_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Succeeds when "$1" runs and is a Python >= 3.12 with venv + ensurepip (needed to make the venv).
# Prints the interpreter's real path (sys.executable), which resolves pyenv shims.
_baton_python_ok() {
    local candidate="$1"
    [[ -n "$candidate" ]] || return 1
    "$candidate" -c '
import sys
if sys.version_info < (3, 12):
    sys.exit(1)
import venv, ensurepip  # noqa: F401  (Debian splits these into python3.X-venv)
print(sys.executable)
' </dev/null 2>/dev/null
}

baton_find_python() {
    local candidate found pyenv_root
    local -a candidates=()

    if [[ -n "${BATON_PYTHON:-}" ]]; then
        if found="$(_baton_python_ok "$BATON_PYTHON")"; then
            printf '%s\n' "$found"
            return 0
        fi
        printf 'error: BATON_PYTHON=%s is not a working Python >= %s with the venv module\n' \
            "$BATON_PYTHON" "$BATON_MIN_PYTHON" >&2
        return 1
    fi

    for candidate in python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            candidates+=("$(command -v "$candidate")")
        fi
    done

    # pyenv installs (its shims on PATH only work with PYENV_VERSION set, so look at the real
    # binaries). 3.12 first: requirements.lock was frozen on it. Then newer versions, newest first.
    if command -v pyenv >/dev/null 2>&1; then
        pyenv_root="$(pyenv root 2>/dev/null || true)"
    fi
    pyenv_root="${pyenv_root:-${PYENV_ROOT:-$HOME/.pyenv}}"
    local minor
    for minor in 12 19 18 17 16 15 14 13; do
        for candidate in "$pyenv_root"/versions/3."$minor".*/bin/python3."$minor" \
            /usr/local/bin/python3."$minor" /usr/bin/python3."$minor"; do
            if [[ -x "$candidate" ]]; then
                candidates+=("$candidate")
            fi
        done
    done

    for candidate in "${candidates[@]}"; do
        if found="$(_baton_python_ok "$candidate")"; then
            printf '%s\n' "$found"
            return 0
        fi
    done

    cat >&2 <<EOF
error: Baton needs Python >= $BATON_MIN_PYTHON (Django 6), with the venv module; none was found.
  Looked at: python3.13, python3.12, python3 on PATH, $pyenv_root/versions/3.1x.*,
  /usr/local/bin/python3.1x and /usr/bin/python3.1x.
  Fix: install one (e.g. 'pyenv install 3.12', or your OS's python3.12 + python3.12-venv),
  or point BATON_PYTHON at it: BATON_PYTHON=/path/to/python3.12 $0
EOF
    return 1
}

# Hash of everything that decides what gets installed into the venv.
_baton_install_hash() {
    {
        printf '%s\n' "$BATON_INSTALL_RECIPE"
        "$BATON_VENV/bin/python" -c 'import sys; print(sys.version)'
        cat "$BATON_ROOT/pyproject.toml" "$BATON_ROOT/requirements.lock"
    } | sha256sum | cut -d' ' -f1
}

baton_venv() {
    local stamp="$BATON_VENV/.baton-installed" python version want

    if _baton_python_ok "$BATON_VENV/bin/python" >/dev/null; then
        version="$("$BATON_VENV/bin/python" -c 'import platform; print(platform.python_version())')"
        baton_log "venv: $BATON_VENV (Python $version)"
    else
        python="$(baton_find_python)" || exit 1
        if [[ -e "$BATON_VENV" ]]; then
            baton_log "venv: $BATON_VENV is broken or older than Python $BATON_MIN_PYTHON; recreating"
            rm -rf -- "${BATON_VENV:?}"
        fi
        version="$("$python" -c 'import platform; print(platform.python_version())')"
        baton_log "venv: creating $BATON_VENV with Python $version ($python)"
        "$python" -m venv "$BATON_VENV" </dev/null
    fi

    want="$(_baton_install_hash)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        baton_log "deps: up to date (pyproject.toml and requirements.lock unchanged)"
    else
        baton_log "deps: pip install -c requirements.lock -e \".[dev]\""
        rm -f -- "$stamp"
        (
            cd "$BATON_ROOT"
            "$BATON_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
                -c requirements.lock -e ".[dev]" </dev/null
        ) || baton_die "pip install failed (see above)"
        printf '%s\n' "$want" >"$stamp"
    fi

    # Like `source .venv/bin/activate`, so ruff/pytest and subprocesses use the venv.
    export VIRTUAL_ENV="$BATON_VENV"
    case ":$PATH:" in
        *":$BATON_VENV/bin:"*) ;;
        *) export PATH="$BATON_VENV/bin:$PATH" ;;
    esac
    unset PYTHONHOME
}

#!/bin/sh
# Create the virtualenv and install idgraph with its dev tools, saying what each step does.
#
# uv installs the ~50 packages in seconds where pip takes a minute or more. It is used from
# PATH when there, else installed into the venv from PyPI (by the interpreter's own pip when
# it has one, which spares the venv a slow ensurepip). Plain pip is the fallback when uv cannot
# be had or its install fails; INSTALLER=pip forces it.
#
# Environment: PYTHON (default python3), VENV (default .venv), INSTALLER (uv or pip).
set -eu

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
INSTALLER=${INSTALLER:-uv}
BIN=$VENV/bin
UV=
started=$(date +%s)

say() { printf 'setup: %s\n' "$*"; }

ensure_pip() {
    if ! "$BIN/python" -m pip --version >/dev/null 2>&1; then
        say "bootstrapping pip into $VENV (ensurepip)"
        "$BIN/python" -m ensurepip --upgrade --default-pip >/dev/null
    fi
}

find_uv() {
    if command -v uv >/dev/null 2>&1; then
        UV=uv
        say "using $(uv --version) from PATH"
        return 0
    fi
    say "installing uv, a fast installer, into $VENV from PyPI"
    # pip >= 22.3 installs into another environment with --python; older pip stops here.
    if "$PYTHON" -m pip --version >/dev/null 2>&1 \
        && "$PYTHON" -m pip --python "$BIN/python" install --quiet --disable-pip-version-check uv
    then
        UV=$BIN/uv
        return 0
    fi
    ensure_pip
    if "$BIN/python" -m pip install --quiet --disable-pip-version-check uv; then
        UV=$BIN/uv
        return 0
    fi
    return 1
}

with_pip() {
    ensure_pip
    say "installing idgraph and its dev tools (.[dev]) with pip; this takes a minute or two"
    "$BIN/python" -m pip install --disable-pip-version-check --upgrade pip
    "$BIN/python" -m pip install --disable-pip-version-check -e '.[dev]'
}

say "creating $VENV with $PYTHON ($("$PYTHON" --version 2>&1))"
"$PYTHON" -m venv --without-pip "$VENV"

if [ "$INSTALLER" != uv ]; then
    with_pip
elif find_uv; then
    say "installing idgraph and its dev tools (.[dev]), and pip, with uv"
    # No cache: uv kept a fresh build of pyspark's source package for every setup (~2 GiB
    # each) in ~/.cache/uv, which filled a shared disk after a few dozen clones. A build in
    # a temporary folder costs the same time (uv never reused those builds) and leaves nothing.
    if ! "$UV" pip install --no-cache --python "$BIN/python" --compile-bytecode -e '.[dev]' pip; then
        say "uv could not install them; falling back to pip"
        with_pip
    fi
else
    say "uv could not be installed; falling back to pip"
    with_pip
fi
# Bytecode now, not at each command's first import: where PYTHONDONTWRITEBYTECODE is set, as
# on some CI machines, every command would otherwise compile idgraph and its libraries again.
# Parallel compiling needs working process pools (shared memory); some sandboxes lack them, so a
# failure falls back to one process, and a failure there only costs speed: say so and go on.
say "compiling idgraph's modules to bytecode"
if ! "$BIN/python" -m compileall -q -j 0 idgraph >"$VENV/compileall.log" 2>&1; then
    say "parallel compile failed ($(tail -n 1 "$VENV/compileall.log")); compiling in one process"
    if ! "$BIN/python" -m compileall -q idgraph >"$VENV/compileall.log" 2>&1; then
        say "could not compile bytecode; commands will compile on first import:"
        cat "$VENV/compileall.log"
    fi
fi
say "done in $(($(date +%s) - started)) s: $("$BIN/idgraph" --version)"

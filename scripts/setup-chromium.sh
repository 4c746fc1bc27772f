#!/bin/sh
# Make sure a Chromium is there for the browser tests (tests/browser), saying what it does.
#
# Playwright drives the distribution's `chromium` package rather than a browser it downloads, so
# nothing outside the package registries is needed. As root on Debian/Ubuntu it is installed with
# apt-get; elsewhere the step says what to install. IDGRAPH_CHROMIUM names another executable.
set -eu

say() { printf 'setup: %s\n' "$*"; }

if [ -n "${IDGRAPH_CHROMIUM:-}" ]; then
    say "browser tests use IDGRAPH_CHROMIUM=$IDGRAPH_CHROMIUM"
    exit 0
fi
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser tests (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
fi
say "the browser tests need Chromium: install your distribution's 'chromium' package"
say "(or set IDGRAPH_CHROMIUM to a Chromium executable), then run make check again"
exit 1

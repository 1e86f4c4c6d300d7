#!/usr/bin/env bash
# The parts of the test suite that pip cannot install: the browser test of 'ganzoo export
# --web' (tests/test_web_export.py) needs Debian's chromium and node, and onnxruntime-web +
# playwright-core from npm in .ci-cache/web (gitignored; no browser download). Installs what
# is missing where it can (apt-get as root), and otherwise says in one line what will skip.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
apt_install() {  # apt_install COMMAND PACKAGE...
    command -v "$1" >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        shift
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
                >/dev/null && return 0
    fi
    return 1
}
apt_install chromium chromium || missing+=(chromium)
apt_install npm nodejs npm || missing+=(node/npm)
if command -v npm >/dev/null; then
    npm install --prefix .ci-cache/web --no-audit --no-fund --loglevel=error \
        onnxruntime-web@1.30.0 playwright-core@1.65.1 </dev/null >/dev/null ||
        missing+=("onnxruntime-web + playwright-core (npm)")
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "test-deps: could not install ${missing[*]}; the 7 browser tests in tests/test_web_export.py will skip (run this script as root on Debian to install them)"
else
    echo "test-deps: chromium, node and the npm packages are ready; every test runs"
fi
exit 0

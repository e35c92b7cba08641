#!/usr/bin/env bash
# Make Debian's Chromium available for the browser test (tests/ui). Never fails the build:
# when it cannot install, it says so loudly and the browser test skips with that reason
# (tests/ui/conftest.py quotes the end of the log below; R1_REQUIRE_BROWSER=1 makes it fail instead).
# A test tool's own browser download (`playwright install`) does not work here: Debian's package does.
set -u
LOG=/tmp/r1-apt-chromium.log
have_chromium() {
    for c in "${R1_CHROMIUM:-}" chromium chromium-browser; do
        [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && "$c" --version >/dev/null 2>&1 && return 0
    done
    return 1
}
if have_chromium; then
    exit 0
fi
install() {  # $1: "" or "sudo"
    echo "ensure_chromium: installing Debian's chromium package for the browser test (log: $LOG)"
    { $1 apt-get update -qq && $1 env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$LOG" 2>&1
}
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    install ""
elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    install sudo
else
    echo "no chromium, and no root or password-less sudo with apt-get to install it" >"$LOG"
fi
if have_chromium; then
    echo "ensure_chromium: $(chromium --version 2>/dev/null | tail -1)"
else
    echo "################################################################################"
    echo "ensure_chromium: WARNING Debian's chromium is not available; the browser test"
    echo "(tests/ui) will be SKIPPED. Install it with: sudo apt-get install chromium"
    tail -5 "$LOG" 2>/dev/null | sed 's/^/  | /'
    echo "################################################################################"
fi
exit 0

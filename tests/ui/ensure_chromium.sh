#!/usr/bin/env bash
# Make Debian's Chromium available for the browser test (tests/ui). Never fails the build:
# when it cannot install, it says so loudly and the browser test skips with that reason.
set -u
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: installing Debian's chromium package for the browser test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/tmp/r1-apt-chromium.log 2>&1 \
        || { echo "ensure_chromium: WARNING apt-get install chromium failed (see /tmp/r1-apt-chromium.log); the browser test will be SKIPPED"; tail -5 /tmp/r1-apt-chromium.log; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/tmp/r1-apt-chromium.log 2>&1 \
        || echo "ensure_chromium: WARNING sudo apt-get install chromium failed; the browser test will be SKIPPED"
else
    echo "ensure_chromium: WARNING no chromium and no root/apt-get to install it; the browser test will be SKIPPED"
fi
exit 0

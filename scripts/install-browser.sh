#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (tests/service/test_dashboard_browser.py),
# which drives it with Playwright at /usr/bin/chromium. Never `playwright install`: no browser
# build is downloaded, only Debian's package.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium
/usr/bin/chromium --version

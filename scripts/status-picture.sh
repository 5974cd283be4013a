#!/usr/bin/env bash
#   Regenerates the README's picture (docs/status-page.png) from the demo:
#   starts scripts/demo.sh, takes one of its redis-servers down for a
#   moment (a real outage on the page), then screenshots the status page in
#   headless chromium (python3-selenium, chromium-driver) at 1280 px.
#
#   scripts/status-picture.sh [OUT.png]     (default docs/status-page.png)
#   ZB_DEMO_BIN as for demo.sh: use built binaries instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/status-page.png}
dir=$(mktemp -d /tmp/zbeat-picture.XXXXXX)
demo_pid=
finish() {
    local rc=$?
    if [ -n "$demo_pid" ]; then
        kill "$demo_pid" 2>/dev/null || true
        wait "$demo_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    exit "$rc"
}
trap finish EXIT INT TERM

ZB_DEMO_DIR=$dir/demo scripts/demo.sh >"$dir/demo.out" 2>&1 &
demo_pid=$!
url=
for _ in $(seq 600); do # the demo may build first: up to a minute
    url=$(sed -n 's/^  status page  //p' "$dir/demo.out")
    [ -n "$url" ] && break
    kill -0 "$demo_pid" 2>/dev/null || { cat "$dir/demo.out"; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "status-picture: the demo printed no URL" >&2; exit 1; }
bin=$(sed -n 's/^  \(.*\)\/zbeat --db .* outages$/\1/p' "$dir/demo.out")
db=$dir/demo/zbeat.db

#   An outage of a few seconds on web-1/cache, then the service back.
port=$(sed -n 's/^  web-1    cache on :\([0-9]*\),.*/\1/p' "$dir/demo.out")
kill -9 "$(cat "$dir/demo/redis-0.pid")"
for _ in $(seq 100); do
    "$bin/zbeat" --db "$db" outages --open | grep -q cache && break
    sleep 0.1
done
sleep 3 # the outage lasts a few seconds, for a visible mark
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis-again.pid" >/dev/null
for _ in $(seq 100); do
    "$bin/zbeat" --db "$db" outages --open | grep -q cache || break
    sleep 0.1
done

/usr/bin/python3 - "$url" "$out" <<'PY'
import shutil, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

url, out = sys.argv[1], sys.argv[2]
options = Options()
options.binary_location = shutil.which("chromium")
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,720", "--hide-scrollbars"):
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
try:
    driver.get(url)
    deadline = time.monotonic() + 30
    while not driver.execute_script("return document.body.dataset.loaded"):
        if time.monotonic() > deadline:
            sys.exit("status-picture: the page did not load")
        time.sleep(0.1)
    driver.save_screenshot(out)
finally:
    driver.quit()
print("wrote", out)
PY
kill "$(cat "$dir/redis-again.pid")" 2>/dev/null || true

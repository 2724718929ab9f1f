#!/usr/bin/env bash
# Benchmark: a full build of every shipped feed from the offline chinania mirror (all 25 list
# pages, 273 detail pages, 13 attachment HEADs, `--backfill 3`), then an unchanged rerun.
# Prints wall time, user CPU and peak memory of each (GNU time). Serves the mirror on 127.0.0.1 only.
#   bash benches/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
python3 tests/fixtures/serve.py --root tests/fixtures/chinania --port 0 \
    --port-file "$work/port" --log "$work/requests.jsonl" --quiet >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
run() {
    /usr/bin/time -f "$1: %e s wall, %U s user, %M KiB peak RSS" "${CARGO_TARGET_DIR:-target}/release/noticefeed" \
        --state "$work/state.sqlite" --mirror "https://www.chinania.org.cn=http://127.0.0.1:$port" \
        --delay-ms 0 -q build --out "$work/public" "${@:2}"
}
run "full build (backfill 3)" --backfill 3
first=$(wc -l < "$work/requests.jsonl")
run "unchanged rerun"
echo "requests: $first in the full build, $(( $(wc -l < "$work/requests.jsonl") - first )) in the rerun"

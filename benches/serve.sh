#!/usr/bin/env bash
# Benchmark: `noticefeed serve` answering conditional GETs (If-None-Match with the current
# ETag, so every answer is a 304) from 64 concurrent connections on loopback for 10 s, then the
# same for full gzip GETs. Prints requests per second and latency percentiles of each. Client
# and server share the machine's cores. Binds 127.0.0.1 only.
#   bash benches/serve.sh [CONNECTIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-64}
secs=${2:-10}
cargo build --release --quiet
cargo bench --no-run --quiet --bench serve_load 2>/dev/null
load=$(ls -t target/release/deps/serve_load-* | grep -v '\.d$' | head -1)
bin=./target/release/noticefeed
[ -n "${CARGO_TARGET_DIR:-}" ] && { bin="$CARGO_TARGET_DIR/release/noticefeed"; load=$(ls -t "$CARGO_TARGET_DIR"/release/deps/serve_load-* | grep -v '\.d$' | head -1); }
work=$(mktemp -d)
mkdir -p "$work/feeds"
sed 's|path = "../notices"|path = "'"$(pwd)"'/notices"|' feeds/notices.toml > "$work/feeds/notices.toml"
"$bin" -q --feeds "$work/feeds" --state "$work/state.sqlite" build --out "$work/public"
"$bin" --feeds "$work/feeds" serve --bind 127.0.0.1:0 --out "$work/public" 2> "$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q ' at http://' "$work/serve.log" && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)
url="$base/notices.rss.xml"
etag=$(curl -sI "$url" | tr -d '\r' | sed -n 's/^etag: //Ip')
echo "file: $(wc -c < "$work/public/notices.rss.xml") bytes, ETag $etag"
echo "conditional GET (304):"
"$load" "$url" --connections "$conns" --seconds "$secs" --header "If-None-Match: $etag"
echo "full GET with Accept-Encoding: gzip (200):"
"$load" "$url" --connections "$conns" --seconds "$secs" --header "Accept-Encoding: gzip"

#!/usr/bin/env bash
# Benchmark: how long a build of every shipped feed takes when the site cannot be reached or
# stalls, with the defaults a cron job runs with (1 s gap per host, `--timeout 20s`,
# `--deadline 10m`). Four cases, each against 127.0.0.1 only:
#   1. the host name does not resolve (a mirror base on a `.invalid` name)   target <= 5 s
#   2. the port refuses connections                                           target <= 5 s
#   3. a server accepts connections and never answers (serve.py --stall '')   target <= 90 s
#   4. one channel (chinania-zhengcefagui), its detail pages never answer,
#      first run: the feed is still written from the list entries             target <= 100 s
# Cases 1-3 run after a good build, and check that every previous file is byte-for-byte and
# mtime untouched. Every case must exit 1. Prints one line per case.
#   bash benches/unreachable.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/noticefeed
work=$(mktemp -d)
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
site=https://www.chinania.org.cn

# serve NAME [serve.py flags...]: starts the mirror server, sets $port.
serve() {
    local name=$1
    shift
    python3 tests/fixtures/serve.py --root tests/fixtures/chinania --port 0 \
        --port-file "$work/$name.port" --quiet "$@" >/dev/null 2>&1 &
    servers+=($!)
    for _ in $(seq 50); do [ -s "$work/$name.port" ] && break; sleep 0.1; done
    port=$(cat "$work/$name.port")
}

# fingerprint DIR: every file's name, size, mtime and hash.
fingerprint() {
    (cd "$1" && find . -type f -printf '%p %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# measure LABEL TARGET_S DIR BASE [build args...]: one build, timed; checks exit code 1.
measure() {
    local label=$1 target=$2 dir=$3 base=$4
    shift 4
    local start end code=0
    start=$(date +%s.%N)
    "$bin" --feeds feeds --state "$dir/state.sqlite" --mirror "$site=$base" \
        build --out "$dir/public" "$@" 2>"$dir/stderr" || code=$?
    end=$(date +%s.%N)
    local secs
    secs=$(echo "$end - $start" | bc)
    local verdict=ok
    if [ "$code" != 1 ]; then verdict="WRONG EXIT CODE $code"; fi
    if (( $(echo "$secs > $target" | bc) )); then verdict="$verdict, OVER TARGET"; fi
    printf '%-58s %7.1f s (target <= %3s s), exit %s: %s\n' "$label" "$secs" "$target" "$code" "$verdict"
    grep -v '^notices:' "$dir/stderr" | sed 's/^/    /'
}

# prepared NAME: a folder with a good build of every feed (previous files and a store).
prepared() {
    local dir=$work/$1
    mkdir -p "$dir"
    cp -r "$work/good/." "$dir/"
    fingerprint "$dir/public" >"$dir/before"
    echo "$dir"
}

untouched() {
    if fingerprint "$1/public" | cmp -s - "$1/before"; then
        echo "    previous files untouched"
    else
        echo "    PREVIOUS FILES CHANGED"
    fi
}

serve good
mkdir -p "$work/good"
"$bin" --feeds feeds --state "$work/good/state.sqlite" --mirror "$site=http://127.0.0.1:$port" \
    --delay-ms 0 -q build --out "$work/good/public"

dir=$(prepared dns)
measure "1. host name does not resolve" 5 "$dir" "http://www.chinania.invalid"
untouched "$dir"

free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(prepared refused)
measure "2. port refuses connections" 5 "$dir" "http://127.0.0.1:$free"
untouched "$dir"

serve silent --stall ''
dir=$(prepared silent)
measure "3. server accepts and never answers" 90 "$dir" "http://127.0.0.1:$port"
untouched "$dir"

serve stall --stall '^/html/zcfg/zhengcefagui/2026/'
dir=$work/stall
mkdir -p "$dir"
measure "4. one channel's detail pages stall (first run)" 100 "$dir" "http://127.0.0.1:$port" \
    chinania-zhengcefagui
if [ -s "$dir/public/chinania-zhengcefagui.atom.xml" ]; then
    echo "    feed written from the list entries: $(grep -c '<entry>' "$dir/public/chinania-zhengcefagui.atom.xml") entries"
else
    echo "    FEED NOT WRITTEN"
fi

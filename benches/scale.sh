#!/usr/bin/env bash
# Benchmark (issue 11): 100 local feeds, each a folder with one JSON Lines file of 1,000 notices
# (about 138 MB; Chinese titles, ~1 KB bodies; `max_items = 50`), generated deterministically by
# benches/scale_corpus.py into a temporary folder. With the release binary it reports wall time,
# user CPU and peak RSS (GNU time) of:
#   1. the first build,
#   2. an unchanged rerun,
#   3. a rerun after editing one notice (the newest of feed s050),
#   4. a rerun after adding one notice to one feed (s099),
# then the store's size against the notice files', and finally runs benches/build.sh (the
# scraped mirror benchmark). Exits non-zero when a build does not exit 0 or its output is wrong.
#
#   bash benches/scale.sh
#   SCALE=10x200 bash benches/scale.sh     # FEEDSxNOTICES, for a quick run
#   MIRROR=0 bash benches/scale.sh         # skip benches/build.sh (run it alone later)
#   KEEP=1 bash benches/scale.sh           # keep the temporary folder and say where it is
#
# Needs python3 and GNU time at /usr/bin/time (Debian: `apt-get install time`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/time ]; then
    echo "benches/scale.sh needs GNU time at /usr/bin/time: apt-get install time" >&2
    exit 2
fi
scale=${SCALE:-100x1000}
if ! [[ $scale =~ ^([0-9]+)x([0-9]+)$ ]]; then
    echo "SCALE must be FEEDSxNOTICES, e.g. 100x1000, not \`$scale\`" >&2
    exit 2
fi
feeds=${BASH_REMATCH[1]}
notices=${BASH_REMATCH[2]}
if [ "$feeds" -lt 1 ] || [ "$notices" -lt 1 ]; then
    echo "SCALE needs at least one feed of one notice" >&2
    exit 2
fi
last=$(printf 's%03d' $((feeds - 1)))
edit_feed=$((feeds / 2))
edit_id=$(printf 's%03d' "$edit_feed")

cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/noticefeed

work=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then
    trap 'echo "kept $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi
python3 benches/scale_corpus.py "$work" --feeds "$feeds" --notices "$notices"

# MiB with one decimal, from bytes.
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

run() {
    local what=$1
    local status=0
    /usr/bin/time -o "$work/time" -f "%e %U %S %M" "$bin" --feeds "$work/feeds" \
        --state "$work/state.sqlite" -q build --out "$work/public" || status=$?
    read -r wall user sys rss < "$work/time"
    printf '%-34s %7.2f s wall %7.2f s user %6.2f s sys %8s peak RSS\n' \
        "$what:" "$wall" "$user" "$sys" "$(mib $((rss * 1024)))"
    if [ "$status" -ne 0 ]; then
        echo "the build exited $status" >&2
        exit 1
    fi
}

# The digest of every output file, to tell which runs changed what.
outputs() { (cd "$work/public" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
run "first build"
outputs > "$work/first.sums"
run "unchanged rerun"
outputs > "$work/rerun.sums"
if ! cmp -s "$work/first.sums" "$work/rerun.sums"; then
    echo "the unchanged rerun changed output files:" >&2
    diff "$work/first.sums" "$work/rerun.sums" >&2 || true
    exit 1
fi

edited=$(python3 benches/scale_corpus.py "$work" --edit "$edit_feed")
run "rerun after editing one notice"
if ! grep -qF "$edited" "$work/public/$edit_id.json"; then
    echo "the edited title \`$edited\` is not in $edit_id.json" >&2
    exit 1
fi

added=$(python3 benches/scale_corpus.py "$work" --add $((feeds - 1)))
run "rerun after adding one notice"
if ! grep -qF "$added" "$work/public/$last.json"; then
    echo "the added title \`$added\` is not in $last.json" >&2
    exit 1
fi

notice_bytes=$(find "$work/notices" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
store_bytes=$(find "$work" -maxdepth 1 -name 'state.sqlite*' -type f -printf '%s\n' |
    awk '{ s += $1 } END { print s }')
printf 'store: %s for %s of notice files (%s x)\n' "$(mib "$store_bytes")" \
    "$(mib "$notice_bytes")" "$(awk -v s="$store_bytes" -v n="$notice_bytes" \
    'BEGIN { printf "%.2f", s / n }')"

if [ "${MIRROR:-1}" = 1 ]; then
    echo
    echo "scraped mirror (benches/build.sh):"
    bash benches/build.sh
else
    echo "scraped mirror: skipped (MIRROR=0); run bash benches/build.sh"
fi

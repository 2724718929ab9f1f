#!/usr/bin/env bash
# Soak: 300 builds (or $1) of three chinania channels and their merge against a copy of the
# offline mirror served on 127.0.0.1 (tests/fixtures/serve.py), mutated between runs (new,
# edited, removed, re-ordered, cross-listed notices, failing pages), a third of the runs killed
# with SIGKILL at a random moment. After every run: PRAGMA integrity_check, no GUID changed,
# no archived notice lost, every written file parses (xmllint, Atom RELAX NG, JSON). Prints
# the counts; exit 1 on any failed check. Not part of `cargo test`.
#   bash benches/soak.sh [RUNS]            SOAK_SEED=N to replay a run
#   NOTICEFEED=target/release/noticefeed bash benches/soak.sh   to soak another build
set -euo pipefail
cd "$(dirname "$0")/.."
command -v xmllint >/dev/null || { echo "xmllint is missing: apt-get install libxml2-utils" >&2; exit 2; }
bin=${NOTICEFEED:-}
if [ -z "$bin" ]; then
    cargo build --quiet
    bin="${CARGO_TARGET_DIR:-target}/debug/noticefeed"
fi
exec python3 benches/soak.py --bin "$bin" --runs "${1:-300}" ${SOAK_SEED:+--seed "$SOAK_SEED"}

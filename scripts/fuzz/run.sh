#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the readers of untrusted input: the filing
# and decision bodies and the whitelist import (CSV and XLSX). Each target runs for
# FUZZ_SECONDS (default 120) from the committed seeds in fuzz/seeds/<target>; a crash leaves its
# input under fuzz/artifacts/<target>/ and fails the script.
#
#   scripts/fuzz/run.sh                      # every target, 120 s each
#   FUZZ_SECONDS=600 scripts/fuzz/run.sh import_xlsx
#
# Needs the nightly toolchain (cargo fuzz builds with sanitizers) and cargo-fuzz
# (installed with `cargo install cargo-fuzz --locked` when missing).
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"
SECONDS_EACH=${FUZZ_SECONDS:-120}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(filing_body decision_body import_csv import_xlsx)
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    printf '\n== %s (%s s)\n' "$t" "$SECONDS_EACH"
    cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$SECONDS_EACH" -max_len=65536 2>&1 |
        grep -E "^#[0-9]+ +DONE|Done [0-9]+ runs|SUMMARY|panicked|ERROR" || true
    if ls "artifacts/$t"/crash-* >/dev/null 2>&1; then
        echo "crash inputs in fuzz/artifacts/$t"; exit 1
    fi
done

#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), one after another, growing
# corpus-full/<target> (minimise it into corpus/<target> with minimise.sh). Logs go to
# /tmp/fuzz-<target>.log.
# Usage: fuzz/run-all.sh [seconds] [target...]; FUZZ_FLAGS adds libFuzzer flags (the stf targets
# go deeper with FUZZ_FLAGS="-max_len=4096 -len_control=0").
set -u
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=${*:-tx_decode action_decode block_decode tx_json consensus_msg gateway_readings stf_sequence stf_market}
for t in $targets; do
    mkdir -p "corpus-full/$t" "corpus/$t" "seeds/$t"
    # The binary cargo fuzz built (RUSTC_BOOTSTRAP=1 cargo fuzz build -s none), run directly so
    # that edits elsewhere in the tree do not rebuild it between targets.
    "target/x86_64-unknown-linux-gnu/release/$t" "corpus-full/$t" "seeds/$t" "corpus/$t" \
        -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 ${FUZZ_FLAGS:-} \
        > "/tmp/fuzz-$t.log" 2>&1
    echo "$t exit $?" >> /tmp/fuzz-runs.log
done

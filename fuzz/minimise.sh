#!/usr/bin/env bash
# Minimises corpus-full/<target> (what a run grew) into corpus/<target>: libFuzzer's merge keeps
# a set of inputs with the same coverage, of which KEEP (default 60), spread evenly over the
# set sorted by size, are committed, so that the corpus replayed in CI stays small. Uses the
# binary cargo fuzz built.
# Usage: fuzz/minimise.sh <target> [keep]
set -eu
cd "$(dirname "$0")"
t=$1
keep=${2:-60}
bin="target/x86_64-unknown-linux-gnu/release/$t"
tmp=$(mktemp -d)
"$bin" -merge=1 "$tmp" "corpus-full/$t" "corpus/$t" "seeds/$t" > "/tmp/fuzz-merge-$t.log" 2>&1
rm -rf "corpus/$t"
mkdir -p "corpus/$t"
n=$(ls "$tmp" | wc -l)
step=$(( (n + keep - 1) / keep ))
ls -S "$tmp" | awk -v s="$step" '(NR - 1) % s == 0' | head -n "$keep" |
    while read -r f; do cp "$tmp/$f" "corpus/$t/$f"; done
echo "$t: $(ls "$tmp" | wc -l) inputs after merge, $(ls "corpus/$t" | wc -l) kept ($(du -sb "corpus/$t" | cut -f1) bytes)"
rm -rf "$tmp"

#!/usr/bin/env bash
# ERC-20 transfer throughput of an Ethereum JSON-RPC node on a presigned
# workload (see loadgen.mjs for what is sent and timed).
#
#   bench/anvil/run.sh <rpc-url> [loadgen options]     measure a running node once
#   bench/anvil/run.sh --anvil [--runs 3] [loadgen options]
#        a fresh anvil (default settings, free port) per run
#   bench/anvil/run.sh --machina BIN [--runs 3] [loadgen options]
#        a fresh `BIN dev` (temporary data dir, free ports) per run
#   bench/anvil/run.sh --compare BIN [--runs 3] [loadgen options]
#        both in one run, alternated (Machina, anvil, Machina, ...); prints
#        each side's medians and machina_to_anvil, the ratio of the medians
#
# Prints each run's JSON on stdout, then one JSON line of medians (per side).
# Installs eth-tests' npm packages (ethers, anvil) and compiles the token if
# needed. Works from any directory.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ETH_TESTS="$(cd "$HERE/../../eth-tests" && pwd)"

[ -d "$ETH_TESTS/node_modules/ethers" ] || (cd "$ETH_TESTS" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
node "$ETH_TESTS/compile.mjs" >/dev/null || exit 1

mode="${1:-}"
case "$mode" in
  --anvil) shift; sides=(anvil) ;;
  --machina | --compare)
    [ $# -ge 2 ] && [ -x "$2" ] || { echo "$mode needs a machina binary" >&2; exit 2; }
    MACHINA="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
    [ "$mode" = --machina ] && sides=(machina) || sides=(machina anvil)
    shift 2 ;;
  *)
    [ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
    exec node "$HERE/loadgen.mjs" "$@" ;;
esac
runs=3
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

ANVIL="$ETH_TESTS/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
[ -x "$ANVIL" ] || ANVIL="$ETH_TESTS/node_modules/.bin/anvil"
node_pid="" data=""
stop_node() {
  [ -n "$node_pid" ] && { kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null; }
  [ -n "$data" ] && rm -rf "$data"
  node_pid="" data=""
}
trap stop_node EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_node SIDE: starts a fresh node of SIDE, sets node_pid and url, waits until it answers.
start_node() {
  local port
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  if [ "$1" = anvil ]; then
    "$ANVIL" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
  else
    data="$(mktemp -d)"
    "$MACHINA" dev --data-dir "$data" --http "127.0.0.1:$(free_port)" --eth-rpc "127.0.0.1:$port" >"$data/node.log" 2>&1 &
  fi
  node_pid=$!
  for _ in $(seq 1 300); do
    curl -sf -m 1 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null && return 0
    sleep 0.1
  done
  echo "$1 did not answer on $url" >&2
  return 1
}

# measure SIDE RESULTS: one run on a fresh node; appends its JSON to RESULTS.
# anvil's auto-mine can leave a burst's ready transactions unmined
# (foundry-rs/foundry#10122): for anvil the loadgen calls evm_mine after 500 ms
# without progress (--kick), and reports how often. anvil also sometimes stops
# answering a batch; the loadgen then fails after 30 s without an answer.
measure() {
  local kick=() out
  [ "$1" = anvil ] && kick=(--kick evm_mine)
  start_node "$1" || { stop_node; return 1; }
  if out="$(node "$HERE/loadgen.mjs" "$url" "${kick[@]}" "${args[@]}")"; then
    echo "{\"side\":\"$1\",${out#\{}" | tee -a "$2"
    stop_node
    return 0
  fi
  echo "$1: attempt failed: ${out:-no result}" >&2
  stop_node
  return 1
}

results="$(mktemp)"
declare -A ok failed
for s in "${sides[@]}"; do ok[$s]=0 failed[$s]=0; done
# Rounds alternate the sides; a failed attempt is retried, up to 2 x runs attempts per side.
for round in $(seq 1 $((2 * runs))); do
  for s in "${sides[@]}"; do
    [ "${ok[$s]}" -lt "$runs" ] || continue
    [ $((ok[$s] + failed[$s])) -lt $((2 * runs)) ] || continue
    echo "== round $round: $s (successful so far ${ok[$s]}/$runs)" >&2
    if measure "$s" "$results"; then ok[$s]=$((ok[$s] + 1)); else failed[$s]=$((failed[$s] + 1)); fi
  done
done
node -e '
  const rs = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
  const failed = JSON.parse(process.argv[2]);
  const med = (v) => { v = [...v].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
  const summary = {};
  for (const side of Object.keys(failed)) {
    const s = rs.filter((r) => r.side === side);
    summary[side] = { median_of: s.length, failed_attempts: failed[side] };
    if (!s.length) continue;
    Object.assign(summary[side], { erc20_per_s: med(s.map((r) => r.erc20_per_s)), txs: s[0].txs, seconds: med(s.map((r) => r.seconds)), send_seconds: med(s.map((r) => r.send_seconds)), kicks: s.map((r) => r.kicks), all_ok: s.every((r) => r.all_mined && r.receipts === r.txs && r.receipts_failed === 0 && r.balances_ok), runs: s.map((r) => r.erc20_per_s) });
  }
  if (summary.machina?.erc20_per_s && summary.anvil?.erc20_per_s) summary.machina_to_anvil = Number((summary.machina.erc20_per_s / summary.anvil.erc20_per_s).toFixed(2));
  console.log(JSON.stringify(summary));
  process.exit(Object.values(summary).every((s) => typeof s !== "object" || s.median_of > 0) ? 0 : 1);
' "$results" "$(for s in "${sides[@]}"; do printf '%s %s\n' "$s" "${failed[$s]}"; done | node -e 'const o={}; for (const l of require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean)) { const [k,v]=l.split(" "); o[k]=Number(v); } console.log(JSON.stringify(o))')"
code=$?
rm -f "$results"
exit $code

#!/usr/bin/env bash
# ERC-20 transfer throughput of an Ethereum JSON-RPC node on a presigned
# workload (see loadgen.mjs for what is sent and timed).
#
#   bench/anvil/run.sh <rpc-url> [loadgen options]     measure a running node once
#   bench/anvil/run.sh --anvil [--runs 3] [loadgen options]
#        start a fresh anvil (default settings, free port) per run, measure,
#        stop it; prints each run's JSON and then the medians as JSON.
#
# Installs eth-tests' npm packages (ethers, anvil) and compiles the token if
# needed. Works from any directory.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ETH_TESTS="$(cd "$HERE/../../eth-tests" && pwd)"

[ -d "$ETH_TESTS/node_modules/ethers" ] || (cd "$ETH_TESTS" && npm ci --no-audit --no-fund --loglevel=error) || exit 1
node "$ETH_TESTS/compile.mjs" >/dev/null || exit 1

if [ "${1:-}" != "--anvil" ]; then
  [ $# -ge 1 ] || { sed -n '2,12p' "$0"; exit 2; }
  exec node "$HERE/loadgen.mjs" "$@"
fi
shift
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
anvil_pid=""
trap '[ -n "$anvil_pid" ] && kill $anvil_pid 2>/dev/null' EXIT
results="$(mktemp)"
failed=0 ok=0 i=0
# anvil's auto-mine sometimes stops answering eth_sendRawTransaction batches
# under this burst (the loadgen then fails after 30 s without an answer);
# such attempts are counted and retried, up to 2 x runs attempts in all.
while [ $ok -lt "$runs" ] && [ $i -lt $((2 * runs)) ]; do
  i=$((i + 1))
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$ANVIL" --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
  anvil_pid=$!
  for _ in $(seq 1 100); do
    curl -sf -m 1 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$port" >/dev/null && break
    sleep 0.1
  done
  echo "== attempt $i (successful so far $ok/$runs): anvil $("$ANVIL" --version | head -1 | awk '{print $3}') on 127.0.0.1:$port" >&2
  # --kick evm_mine: anvil's auto-mine can leave a burst's ready txs unmined
  # (foundry-rs/foundry#10122); the loadgen calls evm_mine only after 500 ms
  # without progress, and reports how often.
  if out="$(node "$HERE/loadgen.mjs" "http://127.0.0.1:$port" --kick evm_mine "${args[@]}")"; then
    echo "$out" | tee -a "$results"
    ok=$((ok + 1))
  else
    echo "attempt $i failed: ${out:-no result}" >&2
    failed=$((failed + 1))
  fi
  kill $anvil_pid 2>/dev/null
  wait $anvil_pid 2>/dev/null
  anvil_pid=""
done
node -e '
  const rs = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
  const med = (k) => { const v = rs.map((r) => r[k]).sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
  if (!rs.length) { console.log(JSON.stringify({ median_of: 0, failed_attempts: Number(process.argv[2]) })); process.exit(1); }
  console.log(JSON.stringify({ median_of: rs.length, failed_attempts: Number(process.argv[2]), erc20_per_s: med("erc20_per_s"), txs: rs[0].txs, seconds: med("seconds"), send_seconds: med("send_seconds"), kicks: rs.map((r) => r.kicks), all_ok: rs.every((r) => r.all_mined && r.receipts === r.txs && r.receipts_failed === 0 && r.balances_ok), runs: rs.map((r) => r.erc20_per_s) }));
' "$results" "$failed"
rm -f "$results"

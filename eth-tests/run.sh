#!/usr/bin/env bash
# Runs the Ethereum client suites (ethers, viem, web3.py, cast) and the
# execution-apis request check against an Ethereum JSON-RPC node.
#
#   eth-tests/run.sh [--anvil] [--log] [--no-install] [SUITE...]
#
#   ETH_RPC   node's HTTP URL (default http://127.0.0.1:8545)
#   ETH_WS    node's WebSocket URL (default: ETH_RPC with ws://, same port)
#   --anvil   start anvil (from node_modules) on a free port first, stop it after
#   --log     put a logging proxy in front of the node for each suite (with
#             DENY_METHODS=a,b it answers those methods -32601 itself); the
#             JSON-RPC requests each client sent go to eth-tests/logs/<suite>.jsonl
#             and the distinct methods to eth-tests/logs/methods.txt
#             (LOG_DIR=dir puts them, and anvil's log, elsewhere)
#   --no-install  skip npm ci / the venv (they are skipped anyway when up to date)
#   SUITE     any of: ethers viem web3 cast apis machina (default: all; machina, the
#             precompiles and native calls, needs MACHINA_BIN and MACHINA_NODE)
#
# Installs into eth-tests/node_modules (npm ci) and eth-tests/.venv (web3.py
# pinned in requirements.txt), compiles contracts/*.sol into eth-tests/build/.
# Prints one line per check, a summary per suite, and a closing
# "eth-tests: N passed, N failed" line; exits non-zero when anything failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

use_anvil=0 log=0 install=1 suites=()
for a in "$@"; do
  case "$a" in
    --anvil) use_anvil=1 ;;
    --log) log=1 ;;
    --no-install) install=0 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    ethers | viem | web3 | cast | apis | machina) suites+=("$a") ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#suites[@]} -gt 0 ] || suites=(ethers viem web3 cast apis machina)

LOG_DIR="${LOG_DIR:-$HERE/logs}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_rpc URL: bounded wait until URL answers eth_chainId.
wait_rpc() {
  for _ in $(seq 1 200); do
    curl -sf -m 2 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT

# --- install -----------------------------------------------------------------
if [ $install = 1 ]; then
  stamp="node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    echo "== npm ci"
    npm ci --no-audit --no-fund --loglevel=error || { echo "npm ci failed"; exit 1; }
  fi
  if [ ! -x .venv/bin/python ] || ! cmp -s requirements.txt .venv/.requirements.txt; then
    echo "== python venv (.venv) with $(grep '^web3==' requirements.txt)"
    python3 -m venv .venv && .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt &&
      cp requirements.txt .venv/.requirements.txt || { echo "venv install failed"; exit 1; }
  fi
fi

echo "== compile"
node compile.mjs || exit 1

# --- node under test -----------------------------------------------------------
if [ $use_anvil = 1 ]; then
  port="$(free_port)"
  mkdir -p "$LOG_DIR"
  ANVIL="$HERE/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
  [ -x "$ANVIL" ] || ANVIL="$HERE/node_modules/.bin/anvil"
  "$ANVIL" --host 127.0.0.1 --port "$port" >"$LOG_DIR/anvil.log" 2>&1 &
  pids+=($!)
  export ETH_RPC="http://127.0.0.1:$port" ETH_WS="ws://127.0.0.1:$port"
  wait_rpc "$ETH_RPC" || { echo "anvil did not come up on $port"; cat "$LOG_DIR/anvil.log"; exit 1; }
  echo "== anvil $("$ANVIL" --version | head -1 | awk '{print $3}') on $ETH_RPC (chain id 31337, instant mining)"
fi
export ETH_RPC="${ETH_RPC:-http://127.0.0.1:8545}"
export ETH_WS="${ETH_WS:-${ETH_RPC/#http/ws}}"
wait_rpc "$ETH_RPC" || { echo "no JSON-RPC node answers at $ETH_RPC"; exit 1; }
NODE_RPC="$ETH_RPC"

if [ $log = 1 ]; then
  mkdir -p "$LOG_DIR"
  : >"$LOG_DIR/methods.txt"
fi

# --- suites -----------------------------------------------------------------------
declare -A cmd=(
  [ethers]="node ethers.test.mjs"
  [viem]="node viem.test.mjs"
  [web3]=".venv/bin/python web3_test.py"
  [cast]="bash cast.test.sh"
  [apis]="node execution-apis/check.mjs"
  [machina]="node machina.test.mjs"
)
total_pass=0 total_fail=0 summary=()
for s in "${suites[@]}"; do
  echo "== $s"
  proxy_pid=""
  if [ $log = 1 ]; then
    pport="$(free_port)"
    rm -f "$LOG_DIR/$s.jsonl"
    node lib/rpc-log-proxy.mjs "$pport" "$NODE_RPC" "$LOG_DIR/$s.jsonl" >/dev/null &
    proxy_pid=$!
    pids+=($proxy_pid)
    export ETH_RPC="http://127.0.0.1:$pport" ETH_WS="ws://127.0.0.1:$pport"
    wait_rpc "$ETH_RPC" || { echo "logging proxy did not start"; exit 1; }
  fi
  out="$(mktemp)"
  timeout 600 ${cmd[$s]} 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line="$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1)"
  p="$(echo "$line" | sed -E 's/^[^:]+: ([0-9]+) passed.*/\1/')"
  f="$(echo "$line" | sed -E 's/^[^:]+: [0-9]+ passed, ([0-9]+) failed.*/\1/')"
  [ -n "$line" ] || { p=0; f=1; }
  [ "$rc" -ne 0 ] && [ "$f" = 0 ] && f=1 # crashed after its last check
  total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
  summary+=("$(printf '%-7s %s' "$s" "$([ "$rc" = 0 ] && echo PASS || echo "FAIL (exit $rc)") - $p passed, $f failed")")
  rm -f "$out"
  if [ -n "$proxy_pid" ]; then
    kill "$proxy_pid" 2>/dev/null
    wait "$proxy_pid" 2>/dev/null
    export ETH_RPC="$NODE_RPC" ETH_WS="${NODE_RPC/#http/ws}"
    {
      echo "## $s: distinct JSON-RPC methods (http / ws), with call counts"
      node -e '
        const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
        const c = new Map();
        for (const l of lines) if (l.method) { const k = `${l.via} ${l.dir === "res" ? "(notification) " : ""}${l.method}`; c.set(k, (c.get(k) || 0) + 1); }
        for (const [k, n] of [...c].sort()) console.log(`  ${k}  x${n}`);
        const first = []; for (const l of lines) if (l.dir === "req" && l.method && !first.includes(l.method)) first.push(l.method);
        console.log("  first-use order: " + first.join(" "));
      ' "$LOG_DIR/$s.jsonl"
    } >>"$LOG_DIR/methods.txt"
  fi
done

echo "== summary against $NODE_RPC"
for l in "${summary[@]}"; do echo "  $l"; done
[ $log = 1 ] && echo "  (JSON-RPC request logs: $LOG_DIR/*.jsonl, methods: $LOG_DIR/methods.txt)"
echo "eth-tests: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

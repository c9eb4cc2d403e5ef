#!/usr/bin/env bash
# The Ethereum client suites against a fresh `machina dev` from the workspace's debug binary
# (`cargo build -p machina` first; MACHINA_BIN overrides it), as .ci/run runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${MACHINA_BIN:-$PWD/target/debug/machina}"
[ -x "$bin" ] || { echo "no machina binary at $bin: run cargo build -p machina" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
data="$(mktemp -d)"
http_port="$(free_port)"
eth_port="$(free_port)"
"$bin" dev --data-dir "$data" --http "127.0.0.1:$http_port" --eth-rpc "127.0.0.1:$eth_port" >"$data/node.log" 2>&1 &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$data"' EXIT
MACHINA_BIN="$bin" MACHINA_NODE="http://127.0.0.1:$http_port" ETH_RPC="http://127.0.0.1:$eth_port" eth-tests/run.sh "$@" || { tail -20 "$data/node.log"; exit 1; }

#!/usr/bin/env bash
# Foundry's cast (from the @foundry-rs/cast npm package) against an Ethereum
# JSON-RPC node at $ETH_RPC: chain-id, block-number, deploy with
# `cast send --create`, ERC-20 transfer, call, receipt, balance, logs, and a
# logs subscription over $ETH_WS. cast waits for each receipt itself (it polls
# eth_getTransactionReceipt); nothing here sleeps.
# Prints one line per check and "cast: N passed, N failed"; exits 1 on failure.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ETH_RPC="${ETH_RPC:-http://127.0.0.1:8545}"
ETH_WS="${ETH_WS:-${ETH_RPC/#http/ws}}"
CAST="${CAST:-$HERE/node_modules/@foundry-rs/cast-linux-amd64/bin/cast}"
[ -x "$CAST" ] || CAST="$HERE/node_modules/.bin/cast"
ARTIFACT="$HERE/build/ERC20.json"
export FOUNDRY_DISABLE_NIGHTLY_WARNING=1 NO_COLOR=1

# m/44'/60'/0'/0/{0,1,2} of "test test test test test test test test test test test junk"
PK0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
PK1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
PK2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   cast: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL cast: $1: ${2:-}"; }
finish() {
  echo "cast: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
# check NAME CMD...: runs CMD, ok if it exits 0; its stdout goes to $out.
check() {
  local name="$1"
  shift
  if out="$("$@" 2>/tmp/cast-err.$$)"; then
    ok "$name"
  else
    fail "$name" "$(head -c 300 /tmp/cast-err.$$ | tr '\n' ' ') $(echo "$out" | head -c 200)"
    return 1
  fi
}
trap 'rm -f /tmp/cast-err.$$' EXIT
first() { awk '{print $1; exit}'; } # "1000 [1e3]" -> "1000"
json() { node -e 'const v=JSON.parse(require("fs").readFileSync(0,"utf8")); const p=process.argv[1].split(".").filter(Boolean); let x=v; for (const k of p) x=x?.[k]; process.stdout.write(typeof x==="object"?JSON.stringify(x):String(x));' "$1"; }
R=(--rpc-url "$ETH_RPC")

[ -f "$ARTIFACT" ] || { echo "FAIL cast: $ARTIFACT missing (run node compile.mjs)"; exit 1; }
BYTECODE="$(json bytecode <"$ARTIFACT")"
DEPLOYED="$(json deployedBytecode <"$ARTIFACT")"

check "cast --version" "$CAST" --version || finish
echo "     $(echo "$out" | head -1)"

check "cast chain-id" "$CAST" chain-id "${R[@]}" || finish
CHAIN_ID="$out"
echo "     chain id $CHAIN_ID at $ETH_RPC"
check "cast client (web3_clientVersion)" "$CAST" client "${R[@]}"
check "cast block-number" "$CAST" block-number "${R[@]}" && [[ "$out" =~ ^[0-9]+$ ]] || fail "block-number is a number" "$out"
START_BLOCK="$out"

ADDR0="$("$CAST" wallet address --private-key $PK0)"
ADDR1="$("$CAST" wallet address --private-key $PK1)"
ADDR2="$("$CAST" wallet address --private-key $PK2)"
[ "$ADDR0" = 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 ] && ok "cast wallet address of dev key 0" || fail "cast wallet address of dev key 0" "$ADDR0"

# --- deploy -------------------------------------------------------------------
SUPPLY=1000000000000000000000000
if check "cast send --create <bytecode> constructor(string,string,uint256)" \
  "$CAST" send "${R[@]}" --private-key $PK0 --json --create "$BYTECODE" \
  "constructor(string,string,uint256)" "Cast Token" CTK $SUPPLY; then
  TOKEN="$(echo "$out" | json contractAddress)"
  DEPLOY_TX="$(echo "$out" | json transactionHash)"
  [ "$(echo "$out" | json status)" = 0x1 ] && ok "deploy receipt status 0x1" || fail "deploy receipt status 0x1" "$(echo "$out" | json status)"
  echo "     token at $TOKEN"
else
  finish
fi

check "cast code equals runtime bytecode" "$CAST" code "${R[@]}" "$TOKEN" && { [ "$out" = "$DEPLOYED" ] || fail "code matches" "length ${#out} vs ${#DEPLOYED}"; }
check "cast call name()(string)" "$CAST" call "${R[@]}" "$TOKEN" "name()(string)" && { [ "$out" = '"Cast Token"' ] || fail "name value" "$out"; }
check "cast call totalSupply()(uint256)" "$CAST" call "${R[@]}" "$TOKEN" "totalSupply()(uint256)" && { [ "$(echo "$out" | first)" = $SUPPLY ] || fail "totalSupply value" "$out"; }

# --- transfer -------------------------------------------------------------------
AMOUNT=5000000000000000000
if check "cast send <token> transfer(address,uint256)" \
  "$CAST" send "${R[@]}" --private-key $PK0 --json "$TOKEN" "transfer(address,uint256)" "$ADDR1" $AMOUNT; then
  TX="$(echo "$out" | json transactionHash)"
  TX_BLOCK="$(printf '%d' "$(echo "$out" | json blockNumber)")"
fi
check "cast call balanceOf(address)(uint256) recipient" "$CAST" call "${R[@]}" "$TOKEN" "balanceOf(address)(uint256)" "$ADDR1" &&
  { [ "$(echo "$out" | first)" = $AMOUNT ] || fail "recipient balance" "$out"; }
check "cast call balanceOf(address)(uint256) sender" "$CAST" call "${R[@]}" "$TOKEN" "balanceOf(address)(uint256)" "$ADDR0" &&
  { [ "$(echo "$out" | first)" = 999995000000000000000000 ] || fail "sender balance" "$out"; }

check "cast receipt <tx> status" "$CAST" receipt "${R[@]}" "$TX" status && { [[ "$out" == 1* || "$out" == true ]] || fail "receipt status 1" "$out"; }
check "cast receipt --json has logs" "$CAST" receipt "${R[@]}" --json "$TX" && { [ "$(echo "$out" | json logs.length)" = 1 ] || fail "receipt logs" "$out"; }
check "cast tx <tx> (eth_getTransactionByHash)" "$CAST" tx "${R[@]}" --json "$TX" && { [ "$(echo "$out" | json type)" = 0x2 ] || fail "tx type 0x2" "$(echo "$out" | json type)"; }

check "cast logs Transfer(address indexed,address indexed,uint256) --address" \
  "$CAST" logs "${R[@]}" --json --from-block "$START_BLOCK" --to-block latest --address "$TOKEN" \
  "Transfer(address indexed from,address indexed to,uint256 value)" &&
  { [ "$(echo "$out" | json length)" = 2 ] || fail "cast logs count (mint + transfer)" "$(echo "$out" | json length)"; }
check "cast logs with indexed topic args (from, to)" \
  "$CAST" logs "${R[@]}" --json --from-block "$TX_BLOCK" --to-block "$TX_BLOCK" --address "$TOKEN" \
  "Transfer(address indexed from,address indexed to,uint256 value)" "$ADDR0" "$ADDR1" &&
  { [ "$(echo "$out" | json 0.transactionHash)" = "$TX" ] || fail "filtered log tx" "$out"; }

# --- logs over WebSocket (cast logs --subscribe) ------------------------------------
# cast prints nothing once subscribed (and with --json prints nothing until it
# exits), so there is no signal that eth_subscribe is in place. Send transfers
# of a marker value, each waited on by cast send, until the subscriber has
# printed one (at most 30).
SUB_OUT="$(mktemp)"
"$CAST" logs --rpc-url "$ETH_WS" --subscribe --address "$TOKEN" \
  "Transfer(address indexed from,address indexed to,uint256 value)" "$ADDR0" "$ADDR2" >"$SUB_OUT" 2>&1 &
SUB_PID=$!
MARK="$(printf '0x%064x' 7)"
seen=0
for _ in $(seq 1 30); do
  "$CAST" send "${R[@]}" --private-key $PK0 "$TOKEN" "transfer(address,uint256)" "$ADDR2" 7 >/dev/null 2>&1 || break
  if grep -q "data: $MARK" "$SUB_OUT"; then seen=1; break; fi
  kill -0 $SUB_PID 2>/dev/null || break
done
kill $SUB_PID 2>/dev/null
wait $SUB_PID 2>/dev/null
if [ $seen = 1 ] || grep -q "data: $MARK" "$SUB_OUT"; then
  ok "cast logs --subscribe over WebSocket saw the transfer"
else
  fail "cast logs --subscribe over WebSocket saw the transfer" "$(head -c 300 "$SUB_OUT")"
fi
rm -f "$SUB_OUT"

# --- value transfer and account reads -------------------------------------------
B2="$("$CAST" balance "${R[@]}" "$ADDR2")"
check "cast send --value 1ether (10^18 wei)" "$CAST" send "${R[@]}" --private-key $PK0 --json "$ADDR2" --value 1ether &&
  { [ "$(echo "$out" | json gasUsed)" = 0x5208 ] || fail "gasUsed 21000" "$(echo "$out" | json gasUsed)"; }
check "cast balance recipient +10^18" "$CAST" balance "${R[@]}" "$ADDR2" &&
  { [ "$(node -e "console.log((BigInt('$out')-BigInt('$B2')).toString())")" = 1000000000000000000 ] || fail "balance delta" "$B2 -> $out"; }
check "cast nonce" "$CAST" nonce "${R[@]}" "$ADDR0" && { [ "$out" -ge 4 ] || fail "nonce >= 4" "$out"; }
check "cast gas-price" "$CAST" gas-price "${R[@]}" && { [ "$out" -gt 0 ] || fail "gas price > 0" "$out"; }
check "cast base-fee" "$CAST" base-fee "${R[@]}"
check "cast block latest --json (baseFeePerGas, gasLimit)" "$CAST" block "${R[@]}" latest --json &&
  { [ "$(echo "$out" | json baseFeePerGas)" != undefined ] && [ "$(echo "$out" | json gasLimit)" != undefined ] || fail "block fields" "$out"; }
check "cast estimate transfer" "$CAST" estimate "${R[@]}" --from "$ADDR0" "$TOKEN" "transfer(address,uint256)" "$ADDR1" 1 &&
  { [ "$out" -gt 21000 ] && [ "$out" -lt 100000 ] || fail "estimate in range" "$out"; }
check "cast storage (totalSupply slot 2)" "$CAST" storage "${R[@]}" "$TOKEN" 2 &&
  { [ "$(printf '%s' "$out" | tr 'A-F' 'a-f')" = "0x$(printf '%064x' 0)" ] && fail "slot 2 nonzero" "$out" || true; }
check "cast rpc eth_feeHistory" "$CAST" rpc "${R[@]}" eth_feeHistory 4 latest '[25,75]'

# --- legacy transaction ------------------------------------------------------------
check "cast send --legacy transfer" "$CAST" send "${R[@]}" --private-key $PK1 --legacy --json "$TOKEN" "transfer(address,uint256)" "$ADDR2" 1 &&
  { [ "$(echo "$out" | json type)" = 0x0 ] || fail "legacy receipt type" "$(echo "$out" | json type)"; }

# --- node-signed (eth_sendTransaction), as forge script --unlocked and Hardhat use -----
check "cast rpc eth_accounts lists the dev accounts" "$CAST" rpc "${R[@]}" eth_accounts &&
  { echo "$out" | grep -qi "${ADDR0#0x}" || fail "eth_accounts has account 0" "$out"; }
check "cast send --unlocked --from account 0 transfer" "$CAST" send "${R[@]}" --unlocked --from "$ADDR0" --json "$TOKEN" "transfer(address,uint256)" "$ADDR2" 1 &&
  { [ "$(echo "$out" | json status)" = 0x1 ] || fail "unlocked receipt status" "$(echo "$out" | json status)"; }

# --- revert ------------------------------------------------------------------------
if out="$("$CAST" call "${R[@]}" --from "$ADDR2" "$TOKEN" "transfer(address,uint256)" "$ADDR1" $SUPPLY$SUPPLY 2>&1)"; then
  fail "cast call of an over-balance transfer reverts" "$out"
elif echo "$out" | grep -q "insufficient balance"; then
  ok "cast call of an over-balance transfer reverts with the reason"
else
  fail "cast call revert reason" "$(echo "$out" | head -c 300)"
fi

finish

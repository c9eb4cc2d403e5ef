"""web3.py against an Ethereum JSON-RPC node ($ETH_RPC over HTTP, $ETH_WS over
WebSocket): deploy and transfer with locally signed EIP-1559 transactions
(eth_account sign_transaction + send_raw_transaction), receipts, balanceOf,
get_logs, fee reads, the signing middleware, and a logs subscription.

Prints one line per check and "web3: N passed, N failed"; exits 1 on failure.
"""

import asyncio
import importlib.metadata
import json
import os
import sys
import traceback
from pathlib import Path

from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.providers.persistent import WebSocketProvider

HERE = Path(__file__).resolve().parent
ETH_RPC = os.environ.get("ETH_RPC", "http://127.0.0.1:8545")
ETH_WS = os.environ.get("ETH_WS") or ETH_RPC.replace("http", "ws", 1)
EVENT_TIMEOUT = float(os.environ.get("EVENT_TIMEOUT_MS", "60000")) / 1000

# m/44'/60'/0'/0/i of "test test test test test test test test test test test junk"
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
]
TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY = "Machina Test Token", "MTT", 1_000_000 * 10**18


class Reporter:
    def __init__(self, suite):
        self.suite, self.passed, self.failed = suite, 0, 0

    def check(self, name, fn):
        try:
            v = fn()
            if v is False:
                raise AssertionError("check returned false")
            self.passed += 1
            print(f"ok   {self.suite}: {name}", flush=True)
            return v
        except Exception as e:  # noqa: BLE001 - every failure is reported
            self.failed += 1
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"FAIL {self.suite}: {name}: {type(e).__name__}: {msg}", flush=True)
            if os.environ.get("VERBOSE"):
                traceback.print_exc()
            return None

    def must(self, name, fn):
        before = self.failed
        v = self.check(name, fn)
        if self.failed > before:
            self.finish()
        return v

    def finish(self):
        print(f"{self.suite}: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed else 0)


def eq(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")
    return True


def ok(cond, what):
    if not cond:
        raise AssertionError(what)
    return True


r = Reporter("web3")
artifact = json.loads((HERE / "build" / "ERC20.json").read_text())
w3 = Web3(Web3.HTTPProvider(ETH_RPC, request_kwargs={"timeout": 60}))
acct0, acct1, acct2 = (Account.from_key(k) for k in DEV_KEYS)

r.must("is_connected", lambda: ok(w3.is_connected(), f"cannot reach {ETH_RPC}"))
chain_id = r.must("eth.chain_id", lambda: w3.eth.chain_id)
print(f"     chain id {chain_id} at {ETH_RPC}, web3.py {importlib.metadata.version('web3')}", flush=True)
r.check("client_version (web3_clientVersion)", lambda: ok(isinstance(w3.client_version, str), "not a string"))
r.check("net.version", lambda: eq(int(w3.net.version), chain_id, "net_version"))


def fees():
    """EIP-1559 fields: tip from eth_maxPriorityFeePerGas, cap 2*base + tip."""
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = w3.eth.max_priority_fee
    return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base + tip}


def send_signed(account, tx):
    """Fill nonce/chain/fees/gas, sign locally, eth_sendRawTransaction, wait."""
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    tx.setdefault("chainId", chain_id)
    tx.setdefault("type", 2)
    for k, v in fees().items():
        tx.setdefault(k, v)
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    signed = w3.eth.account.sign_transaction(tx, account.key)
    h = w3.eth.send_raw_transaction(signed.raw_transaction)
    eq(h, signed.hash, "returned hash")
    return w3.eth.wait_for_transaction_receipt(h, timeout=120, poll_latency=0.25)


# --- deploy ---------------------------------------------------------------
Token = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])


def deploy():
    tx = Token.constructor(TOKEN_NAME, TOKEN_SYMBOL, TOKEN_SUPPLY).build_transaction(
        {"from": acct0.address, "nonce": w3.eth.get_transaction_count(acct0.address, "pending"), **fees()}
    )
    rcpt = send_signed(acct0, tx)
    eq(rcpt["status"], 1, "status")
    ok(rcpt["contractAddress"], "contractAddress")
    print(f"     token at {rcpt['contractAddress']} (block {rcpt['blockNumber']})", flush=True)
    return rcpt["contractAddress"]


token_addr = r.must("deploy via build_transaction + sign_transaction + send_raw_transaction", deploy)
token = w3.eth.contract(address=token_addr, abi=artifact["abi"])

r.check("get_code equals runtime bytecode", lambda: eq("0x" + w3.eth.get_code(token_addr).hex().removeprefix("0x"), artifact["deployedBytecode"], "code"))
r.check(
    "name/symbol/decimals/totalSupply (eth_call)",
    lambda: eq(
        (token.functions.name().call(), token.functions.symbol().call(), token.functions.decimals().call(), token.functions.totalSupply().call()),
        (TOKEN_NAME, TOKEN_SYMBOL, 18, TOKEN_SUPPLY),
        "metadata",
    ),
)

# --- transfer -------------------------------------------------------------
amount = 4321 * 10**18
before0 = token.functions.balanceOf(acct0.address).call()
before1 = token.functions.balanceOf(acct1.address).call()


def transfer():
    tx = token.functions.transfer(acct1.address, amount).build_transaction(
        {"from": acct0.address, "nonce": w3.eth.get_transaction_count(acct0.address, "pending"), "chainId": chain_id, **fees()}
    )
    eq(tx["type"] if "type" in tx else 2, 2, "type")
    rcpt = send_signed(acct0, tx)
    eq(rcpt["status"], 1, "status")
    eq(len(rcpt["logs"]), 1, "logs")
    return rcpt


rcpt1 = r.check("transfer (signed EIP-1559) + wait_for_transaction_receipt", transfer)
r.check(
    "balanceOf both sides",
    lambda: eq(
        (token.functions.balanceOf(acct0.address).call(), token.functions.balanceOf(acct1.address).call()),
        (before0 - amount, before1 + amount),
        "balances",
    ),
)


def tx_fields():
    tx = w3.eth.get_transaction(rcpt1["transactionHash"])
    eq(tx["type"], 2, "type")
    ok(tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"], "maxFee >= tip")
    eq(tx["chainId"], chain_id, "chainId")
    ok(rcpt1["effectiveGasPrice"] > 0, "effectiveGasPrice")
    base = w3.eth.get_block(rcpt1["blockNumber"])["baseFeePerGas"]
    return eq(rcpt1["effectiveGasPrice"], min(tx["maxFeePerGas"], base + tx["maxPriorityFeePerGas"]), "effectiveGasPrice = min(maxFee, base+tip)")


r.check("EIP-1559 fields of the transaction and receipt", tx_fields)


def logs():
    topic0 = Web3.keccak(text="Transfer(address,address,uint256)")
    pad = lambda a: "0x" + "00" * 12 + a[2:].lower()  # noqa: E731
    got = w3.eth.get_logs(
        {"address": token_addr, "topics": [topic0, pad(acct0.address), pad(acct1.address)], "fromBlock": rcpt1["blockNumber"], "toBlock": rcpt1["blockNumber"]}
    )
    eq(len(got), 1, "raw get_logs count")
    eq(got[0]["transactionHash"], rcpt1["transactionHash"], "tx hash")
    evs = token.events.Transfer().get_logs(from_block=0, to_block="latest", argument_filters={"to": acct1.address})
    ok(len(evs) >= 1, "no decoded Transfer to account 1")
    return eq(evs[-1]["args"]["value"], amount, "decoded value")


r.check("get_logs (raw topics) and events.Transfer.get_logs", logs)


def fee_reads():
    b = w3.eth.get_block("latest")
    ok(b["baseFeePerGas"] >= 0 and b["gasLimit"] > 0, "baseFeePerGas/gasLimit")
    ok(w3.eth.gas_price > 0, "gas_price")
    ok(w3.eth.max_priority_fee >= 0, "max_priority_fee")
    h = w3.eth.fee_history(4, "latest", [25, 75])
    return ok(len(h["baseFeePerGas"]) >= 2 and "gasUsedRatio" in h, "fee_history")


r.check("get_block baseFeePerGas, gas_price, max_priority_fee, fee_history", fee_reads)


def value_transfer():
    before = w3.eth.get_balance(acct2.address)
    rcpt = send_signed(acct0, {"to": acct2.address, "value": 10**18, "gas": 21000})
    eq(rcpt["gasUsed"], 21000, "gasUsed")
    return eq(w3.eth.get_balance(acct2.address), before + 10**18, "balance")


r.check("raw signed value transfer of 10^18 wei", value_transfer)


def legacy():
    tx = {"to": acct2.address, "value": 10**12, "gas": 21000, "gasPrice": w3.eth.gas_price, "nonce": w3.eth.get_transaction_count(acct0.address, "pending"), "chainId": chain_id}
    signed = w3.eth.account.sign_transaction(tx, acct0.key)
    rcpt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=120, poll_latency=0.25)
    eq(rcpt["status"], 1, "status")
    return eq(w3.eth.get_transaction(rcpt["transactionHash"])["type"], 0, "type")


r.check("raw signed legacy (type 0, EIP-155) transaction", legacy)


def middleware():
    w = Web3(Web3.HTTPProvider(ETH_RPC))
    w.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(acct1), layer=0)
    h = w.eth.send_transaction({"from": acct1.address, "to": acct2.address, "value": 12345 * 10**12})
    rcpt = w.eth.wait_for_transaction_receipt(h, timeout=120, poll_latency=0.25)
    return eq(rcpt["status"], 1, "status")


r.check("SignAndSendRawMiddleware send_transaction (auto-filled fields)", middleware)


def revert():
    try:
        token.functions.transfer(acct1.address, TOKEN_SUPPLY * 2).call({"from": acct2.address})
    except Exception as e:  # noqa: BLE001
        return ok("insufficient balance" in str(e), f"reason not in error: {e}")
    raise AssertionError("call did not revert")


r.check("eth_call revert reason surfaces", revert)


def nonce_pending():
    latest = w3.eth.get_transaction_count(acct0.address, "latest")
    return ok(w3.eth.get_transaction_count(acct0.address, "pending") >= latest > 0, "pending < latest")


r.check("get_transaction_count pending >= latest", nonce_pending)


async def ws_logs():
    async with AsyncWeb3(WebSocketProvider(ETH_WS)) as aw3:
        eq(await aw3.eth.chain_id, chain_id, "ws chain id")
        sub = await aw3.eth.subscribe("logs", {"address": token_addr})
        ok(isinstance(sub, str) and sub.startswith("0x"), f"subscription id {sub!r}")
        value = 777
        tx = token.functions.transfer(acct2.address, value).build_transaction(
            {"from": acct0.address, "nonce": w3.eth.get_transaction_count(acct0.address, "pending"), **fees()}
        )
        rcpt = await asyncio.to_thread(send_signed, acct0, tx)

        async def first():
            async for msg in aw3.socket.process_subscriptions():
                return msg

        msg = await asyncio.wait_for(first(), EVENT_TIMEOUT)
        log = msg["result"]
        eq(log["transactionHash"], rcpt["transactionHash"], "subscribed log tx")
        eq(int.from_bytes(bytes(log["data"]), "big"), value, "subscribed log value")
        await aw3.eth.unsubscribe(sub)
        return True


r.check("AsyncWeb3 WebSocketProvider subscribe('logs')", lambda: asyncio.run(ws_logs()))

r.finish()

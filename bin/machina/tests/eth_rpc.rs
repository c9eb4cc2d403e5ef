//! Ethereum JSON-RPC on the real binary: the protocol's error codes and batches, an ERC-20
//! deployed and transferred with signed raw transactions, its logs, and a native transfer as
//! Ethereum tools see it. The real clients (ethers, viem, web3.py, cast) run in `eth-tests/`.

mod common;

use common::{free_port, start_dev};
use machina_evm::sign::{mnemonic_keys, sign_1559, Unsigned, DEV_MNEMONIC};
use machina_evm::{create_address, BASE_FEE_WEI};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn rpc(url: &str, body: Value) -> Value {
    ureq::post(url)
        .send_json(body)
        .expect("POST")
        .into_json()
        .expect("JSON")
}

fn call(url: &str, method: &str, params: Value) -> Value {
    let v = rpc(
        url,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    );
    assert!(v.get("error").is_none(), "{method}: {v}");
    v["result"].clone()
}

fn receipt(url: &str, hash: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = call(url, "eth_getTransactionReceipt", json!([hash]));
        if !r.is_null() {
            return r;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn erc20() -> String {
    let code = include_str!("../../../crates/stf/tests/fixtures/erc20.hex").trim();
    // constructor("Watt", "WATT", 10^6)
    let args = "0000000000000000000000000000000000000000000000000000000000000060\
                00000000000000000000000000000000000000000000000000000000000000a0\
                00000000000000000000000000000000000000000000000000000000000f4240\
                0000000000000000000000000000000000000000000000000000000000000004\
                5761747400000000000000000000000000000000000000000000000000000000\
                0000000000000000000000000000000000000000000000000000000000000004\
                5741545400000000000000000000000000000000000000000000000000000000";
    format!("{code}{args}")
}

#[test]
fn ethereum_tools_deploy_transfer_and_read_logs_through_json_rpc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eth_port = free_port();
    let _node = start_dev(
        dir.path(),
        free_port(),
        &["--eth-rpc", &format!("127.0.0.1:{eth_port}")],
    );
    let url = format!("http://127.0.0.1:{eth_port}");
    let chain_id = u64::from_str_radix(
        call(&url, "eth_chainId", json!([]))
            .as_str()
            .expect("hex")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");

    // The protocol: unknown methods, malformed bodies, batches.
    let v = rpc(
        &url,
        json!({"jsonrpc": "2.0", "id": 7, "method": "eth_mineBlocksPlease"}),
    );
    assert_eq!(v["error"]["code"], -32601);
    assert_eq!(v["id"], 7);
    let v = ureq::post(&url)
        .set("content-type", "application/json")
        .send_string("{")
        .expect("POST")
        .into_json::<Value>()
        .expect("JSON");
    assert_eq!(v["error"]["code"], -32700);
    let v = rpc(
        &url,
        json!([
            {"jsonrpc": "2.0", "id": 1, "method": "net_version"},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber"},
        ]),
    );
    assert_eq!(v[0]["result"], chain_id.to_string());
    assert!(v[1]["result"].as_str().expect("hex").starts_with("0x"));

    // Account 0 of the dev mnemonic is funded and listed.
    let keys = mnemonic_keys(DEV_MNEMONIC, 2);
    let me = keys[0].address().to_string().to_lowercase();
    assert_eq!(call(&url, "eth_accounts", json!([]))[0], me.as_str());
    let balance = call(&url, "eth_getBalance", json!([me, "latest"]));
    assert_eq!(
        balance, "0x21e19e0c9bab2400000",
        "10,000 tokens of 10^18 wei"
    );

    // Deploy and transfer with signed raw transactions.
    let sign = |nonce: u64, to, input: Vec<u8>, gas| {
        let raw = sign_1559(
            &keys[0],
            &Unsigned {
                chain_id,
                nonce,
                to,
                value_wei: Default::default(),
                input,
                gas_limit: gas,
                max_fee_per_gas: 2 * BASE_FEE_WEI,
                max_priority_fee_per_gas: 0,
            },
        );
        format!("0x{}", hex::encode(raw))
    };
    let h = call(
        &url,
        "eth_sendRawTransaction",
        json!([sign(0, None, hex::decode(erc20()).expect("hex"), 2_000_000)]),
    );
    let r = receipt(&url, h.as_str().expect("hash"));
    assert_eq!(r["status"], "0x1");
    let token = create_address(&keys[0].address(), 0);
    assert_eq!(
        r["contractAddress"],
        token.to_string().to_lowercase().as_str()
    );
    assert_ne!(
        call(&url, "eth_getCode", json!([token.to_string(), "latest"])),
        "0x"
    );

    let to = keys[1].address();
    let mut data = machina_evm::abi::selector("transfer(address,uint256)").to_vec();
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(&to.0);
    data.extend_from_slice(&[0u8; 31]);
    data.push(42);
    let h = call(
        &url,
        "eth_sendRawTransaction",
        json!([sign(1, Some(token), data, 100_000)]),
    );
    let r = receipt(&url, h.as_str().expect("hash"));
    assert_eq!(r["status"], "0x1");
    assert_eq!(
        r["effectiveGasPrice"],
        format!("{BASE_FEE_WEI:#x}").as_str()
    );
    let logs = r["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1);
    let transfer_topic = logs[0]["topics"][0].clone();

    // The balance through eth_call, the log through eth_getLogs.
    let mut q = machina_evm::abi::selector("balanceOf(address)").to_vec();
    q.extend_from_slice(&[0u8; 12]);
    q.extend_from_slice(&to.0);
    let out = call(
        &url,
        "eth_call",
        json!([{"to": token.to_string(), "data": format!("0x{}", hex::encode(q))}, "latest"]),
    );
    assert_eq!(
        out.as_str()
            .expect("hex")
            .trim_start_matches("0x")
            .trim_start_matches('0'),
        "2a"
    );
    let found = call(
        &url,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "address": token.to_string(), "topics": [transfer_topic]}]),
    );
    assert_eq!(
        found.as_array().expect("logs").len(),
        2,
        "the mint and the transfer: {found}"
    );

    // A revert in eth_call answers code 3 with its reason.
    let mut q = machina_evm::abi::selector("transfer(address,uint256)").to_vec();
    q.extend_from_slice(&[0u8; 12]);
    q.extend_from_slice(&to.0);
    q.extend_from_slice(&[0xff; 32]);
    let v = rpc(
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"from": me, "to": token.to_string(), "data": format!("0x{}", hex::encode(q))}]}),
    );
    assert_eq!(v["error"]["code"], 3, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("text")
            .contains("insufficient balance"),
        "{v}"
    );

    // Value below a micro-unit is refused with its code.
    let v = rpc(
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_estimateGas", "params": [{"from": me, "to": to.to_string(), "value": "0x1"}]}),
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("text")
            .starts_with("sub_micro_value"),
        "{v}"
    );
    assert_eq!(
        call(
            &url,
            "eth_estimateGas",
            json!([{"from": me, "to": to.to_string(), "value": "0xe8d4a51000"}])
        ),
        "0x5208"
    );
}

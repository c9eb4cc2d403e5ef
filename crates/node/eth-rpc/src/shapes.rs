//! Machina's blocks, transactions and receipts in the JSON shapes of Ethereum's JSON-RPC.
//!
//! - A block's `hash`, `parentHash`, `stateRoot`, `transactionsRoot` and `receiptsRoot` are
//!   Machina's own (SHA-256 based); `miner` is the proposer; `baseFeePerGas` is the constant
//!   base fee; `gasLimit` the block's gas limit; `logsBloom` is empty (filter with
//!   `eth_getLogs`, which reads the logs themselves).
//! - An Ethereum transaction appears as it was signed. A native transaction appears with its
//!   Machina id as `hash`, its sender as `from`, the recipient and value of a first bank
//!   transfer as `to` and `value`, its canonical encoding as `input`, type `0x0`, zero `v`,
//!   `r`, `s`, and the gas of its EVM calls as its gas.
//! - A receipt's logs are the EVM's logs. `logIndex` is `transactionIndex × 256 + position`:
//!   unique and ordered within the block, computed without reading the rest of the block
//!   (a transaction leaves at most 200 logs). `cumulativeGasUsed` is the transaction's own.
//! - Module events (transfers, orders, settlements) are not logs; the `/v1/ws` stream and
//!   `/v1/blocks` carry them.

use machina_evm::{decode_with_sender, EthTx, BASE_FEE_WEI, BLOCK_GAS_LIMIT, WEI_PER_MICRO};
use machina_primitives::{AttrValue, BlockHeader, Encode, Event, Hash, Receipt};
use machina_stf::{Action, Transaction};
use machina_store::TxRecord;
use serde_json::{json, Value};

/// A quantity: `0x` and hex without leading zeros.
pub fn qty(n: impl Into<u128>) -> Value {
    Value::String(format!("{:#x}", n.into()))
}

/// Bytes: `0x` and hex.
pub fn data(b: &[u8]) -> Value {
    Value::String(format!("0x{}", hex::encode(b)))
}

/// Hash of the empty uncle list, as every post-merge block has it.
const EMPTY_UNCLES: &str = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";

fn zero_bloom() -> Value {
    data(&[0u8; 256])
}

/// The carried Ethereum transaction of an envelope, decoded (its sender is the frame's,
/// recovered when it was admitted).
pub fn carried(tx: &Transaction) -> Option<EthTx> {
    match (tx.signatures.as_slice(), tx.body.actions.as_slice()) {
        ([], [Action::Evm(machina_evm::EvmAction::Ethereum { raw })]) => {
            decode_with_sender(raw, tx.body.sender).ok()
        }
        _ => None,
    }
}

/// Gas a transaction used: an Ethereum one's from its fee (a whole number of micro-units per
/// gas), a native one's from its EVM calls.
pub fn gas_used(tx: &Transaction, eth: Option<&EthTx>, receipt: &Receipt) -> u64 {
    match eth {
        Some(e) => {
            let per_gas = (e.gas_price_wei / WEI_PER_MICRO).max(1);
            u64::try_from(receipt.fee_charged.0 / per_gas).unwrap_or(u64::MAX)
        }
        None => {
            let _ = tx;
            receipt
                .events
                .iter()
                .filter(|e| e.module == "evm" && e.kind == "executed")
                .filter_map(|e| e.attrs.get("gas_used").and_then(AttrValue::as_u64))
                .sum()
        }
    }
}

/// A block object; `txs` are hashes, or full objects when `full`.
pub fn block(header: &BlockHeader, txs: Vec<Value>, gas_used: u64) -> Value {
    json!({
        "number": qty(header.height),
        "hash": header.hash().to_string(),
        "parentHash": header.parent_hash.to_string(),
        "nonce": "0x0000000000000000",
        "sha3Uncles": EMPTY_UNCLES,
        "logsBloom": zero_bloom(),
        "transactionsRoot": header.tx_root.to_string(),
        "stateRoot": header.state_root.to_string(),
        "receiptsRoot": header.receipts_root.to_string(),
        "miner": header.proposer.to_string().to_lowercase(),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": "0x",
        "size": qty(0u64),
        "gasLimit": qty(BLOCK_GAS_LIMIT),
        "gasUsed": qty(gas_used),
        "timestamp": qty(header.timestamp_ms / 1000),
        "baseFeePerGas": qty(BASE_FEE_WEI),
        "mixHash": Hash::default().to_string(),
        "transactions": txs,
        "uncles": [],
        "withdrawals": [],
        "withdrawalsRoot": Hash::default().to_string(),
    })
}

/// Where a transaction sits, when it is in a block.
pub struct Position {
    /// The block's hash.
    pub block_hash: Hash,
    /// The block's height.
    pub height: u64,
    /// The transaction's index in it.
    pub index: u32,
}

/// A transaction object.
pub fn transaction(hash: &Hash, tx: &Transaction, at: Option<&Position>) -> Value {
    let mut v = match carried(tx) {
        Some(e) => eth_transaction(&e),
        None => native_transaction(tx),
    };
    v["hash"] = Value::String(hash.to_string());
    v["from"] = Value::String(tx.body.sender.to_string().to_lowercase());
    v["nonce"] = qty(tx.body.nonce);
    v["blockHash"] = at.map_or(Value::Null, |p| Value::String(p.block_hash.to_string()));
    v["blockNumber"] = at.map_or(Value::Null, |p| qty(p.height));
    v["transactionIndex"] = at.map_or(Value::Null, |p| qty(p.index));
    v
}

fn eth_transaction(e: &EthTx) -> Value {
    let mut v = json!({
        "type": qty(e.tx_type),
        "chainId": qty(e.chain_id),
        "to": e.to.map(|a| a.to_string().to_lowercase()),
        "value": qty(e.value.0 * WEI_PER_MICRO),
        "input": data(&e.input),
        "gas": qty(e.gas_limit),
        "gasPrice": qty(e.gas_price_wei),
        "v": "0x0", "r": "0x0", "s": "0x0",
    });
    if e.tx_type == 2 {
        v["maxFeePerGas"] = qty(e.max_fee_per_gas);
        v["maxPriorityFeePerGas"] = qty(e.max_priority_fee_per_gas);
    }
    if e.tx_type >= 1 {
        v["accessList"] = Value::Array(
            e.access_list
                .iter()
                .map(|(a, keys)| {
                    json!({"address": a.to_string().to_lowercase(),
                           "storageKeys": keys.iter().map(|k| data(k)).collect::<Vec<_>>()})
                })
                .collect(),
        );
    }
    v
}

fn native_transaction(tx: &Transaction) -> Value {
    let (to, value) = match tx.body.actions.first() {
        Some(Action::Bank(machina_bank::BankAction::Transfer { to, amount })) => (
            Value::String(to.to_string().to_lowercase()),
            qty(amount.0 * WEI_PER_MICRO),
        ),
        _ => (Value::Null, qty(0u64)),
    };
    let gas: u64 = tx
        .body
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Evm(e) => e.gas_limit(),
            _ => None,
        })
        .sum();
    json!({
        "type": "0x0",
        "chainId": qty(tx.body.chain_id),
        "to": to,
        "value": value,
        "input": data(&tx.encode()),
        "gas": qty(gas),
        "gasPrice": qty(BASE_FEE_WEI),
        "v": "0x0", "r": "0x0", "s": "0x0",
    })
}

/// The logs of a receipt, as log objects.
pub fn logs(receipt: &Receipt, at: &Position) -> Vec<Value> {
    receipt
        .events
        .iter()
        .filter(|e| e.module == "evm" && e.kind == "log")
        .enumerate()
        .map(|(i, e)| log(e, at, receipt.tx_hash, i))
        .collect()
}

fn text<'e>(e: &'e Event, key: &str) -> &'e str {
    match e.attrs.get(key) {
        Some(AttrValue::Text(t)) => t,
        _ => "",
    }
}

fn log(e: &Event, at: &Position, tx_hash: Hash, i: usize) -> Value {
    let topics: Vec<&str> = text(e, "topics")
        .split(',')
        .filter(|t| !t.is_empty())
        .collect();
    json!({
        "address": text(e, "address").to_lowercase(),
        "topics": topics,
        "data": text(e, "data"),
        "blockHash": at.block_hash.to_string(),
        "blockNumber": qty(at.height),
        "transactionHash": tx_hash.to_string(),
        "transactionIndex": qty(at.index),
        "logIndex": qty(u64::from(at.index) * 256 + i as u64),
        "removed": false,
    })
}

/// A receipt object.
pub fn receipt(rec: &TxRecord, block_hash: Hash) -> Value {
    let eth = carried(&rec.tx);
    let at = Position {
        block_hash,
        height: rec.height,
        index: rec.index,
    };
    let gas = gas_used(&rec.tx, eth.as_ref(), &rec.receipt);
    let created = rec
        .receipt
        .events
        .iter()
        .find(|e| e.module == "evm" && e.kind == "executed")
        .map(|e| text(e, "created"))
        .filter(|c| !c.is_empty())
        .map(str::to_lowercase);
    let to = match &eth {
        Some(e) => e.to.map(|a| a.to_string().to_lowercase()),
        None => native_transaction(&rec.tx)["to"]
            .as_str()
            .map(str::to_owned),
    };
    json!({
        "transactionHash": rec.receipt.tx_hash.to_string(),
        "transactionIndex": qty(rec.index),
        "blockHash": block_hash.to_string(),
        "blockNumber": qty(rec.height),
        "from": rec.tx.body.sender.to_string().to_lowercase(),
        "to": to,
        "cumulativeGasUsed": qty(gas),
        "gasUsed": qty(gas),
        "effectiveGasPrice": qty(eth.as_ref().map_or(BASE_FEE_WEI, |e| e.gas_price_wei)),
        "contractAddress": created,
        "logs": logs(&rec.receipt, &at),
        "logsBloom": zero_bloom(),
        "status": if rec.receipt.success { "0x1" } else { "0x0" },
        "type": qty(eth.as_ref().map_or(0, |e| e.tx_type)),
    })
}

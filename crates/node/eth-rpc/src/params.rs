//! Reading JSON-RPC parameters: quantities, addresses, data, block tags and call objects.

use crate::RpcError;
use machina_evm::units::{wei_to_micro, Wei};
use machina_primitives::{Address, Amount, Hash};
use serde_json::Value;

/// The `i`th positional parameter.
pub(crate) fn arg(params: &Value, i: usize) -> Option<&Value> {
    params
        .as_array()
        .and_then(|a| a.get(i))
        .filter(|v| !v.is_null())
}

/// The `i`th parameter, which must be there.
pub(crate) fn need(params: &Value, i: usize, what: &str) -> Result<Value, RpcError> {
    arg(params, i)
        .cloned()
        .ok_or_else(|| RpcError::params(format!("parameter {i} ({what}) is missing")))
}

/// A quantity (`0x`-hex, or a JSON number).
pub(crate) fn quantity(v: &Value, what: &str) -> Result<u128, RpcError> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(u128::from)
            .ok_or_else(|| RpcError::params(format!("{what} is not a non-negative integer"))),
        Value::String(s) => {
            let h = s
                .strip_prefix("0x")
                .ok_or_else(|| RpcError::params(format!("{what} must be 0x-prefixed hex")))?;
            if h.is_empty() {
                return Ok(0);
            }
            u128::from_str_radix(h, 16)
                .map_err(|_| RpcError::params(format!("{what} is not a hex quantity")))
        }
        _ => Err(RpcError::params(format!("{what} must be a hex quantity"))),
    }
}

/// A quantity that fits 64 bits.
pub(crate) fn quantity64(v: &Value, what: &str) -> Result<u64, RpcError> {
    u64::try_from(quantity(v, what)?)
        .map_err(|_| RpcError::params(format!("{what} does not fit 64 bits")))
}

/// A 256-bit quantity (values in wei).
pub(crate) fn wei(v: &Value, what: &str) -> Result<Wei, RpcError> {
    let s = v
        .as_str()
        .ok_or_else(|| RpcError::params(format!("{what} must be a hex quantity")))?;
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| RpcError::params(format!("{what} must be 0x-prefixed hex")))?;
    Wei::from_str_radix(if h.is_empty() { "0" } else { h }, 16)
        .map_err(|_| RpcError::params(format!("{what} is not a 256-bit hex quantity")))
}

/// Wei as micro-units, refused when not a whole number of them.
pub(crate) fn wei_as_micro(w: Wei) -> Result<Amount, RpcError> {
    wei_to_micro(w).ok_or_else(|| {
        RpcError::new(
            -32000,
            format!("sub_micro_value: value of {w} wei is not a whole number of micro-units (10^12 wei): round it"),
        )
    })
}

/// A 20-byte address.
pub(crate) fn address(v: &Value, what: &str) -> Result<Address, RpcError> {
    v.as_str()
        .and_then(Address::from_hex)
        .ok_or_else(|| RpcError::params(format!("{what} must be a 20-byte 0x-hex address")))
}

/// A 32-byte hash.
pub(crate) fn hash(v: &Value, what: &str) -> Result<Hash, RpcError> {
    let s = v
        .as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .ok_or_else(|| RpcError::params(format!("{what} must be a 32-byte 0x-hex hash")))?;
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h)
        .map_err(|_| RpcError::params(format!("{what} must be a 32-byte 0x-hex hash")))?;
    Ok(Hash(h))
}

/// `0x`-hex bytes.
pub(crate) fn bytes(v: &Value, what: &str) -> Result<Vec<u8>, RpcError> {
    let s = v
        .as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .ok_or_else(|| RpcError::params(format!("{what} must be 0x-prefixed hex")))?;
    hex::decode(s).map_err(|_| RpcError::params(format!("{what} is not hex")))
}

/// A block a method asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockSel {
    /// The head (`latest`, `pending`, `safe`, `finalized`: a committed block is final).
    Head,
    /// A height.
    Number(u64),
    /// A block hash.
    Hash(Hash),
}

/// A block tag, number or `{"blockHash": ..}`; absent means the head.
pub(crate) fn block(v: Option<&Value>) -> Result<BlockSel, RpcError> {
    let Some(v) = v else {
        return Ok(BlockSel::Head);
    };
    if let Some(obj) = v.as_object() {
        if let Some(h) = obj.get("blockHash") {
            return Ok(BlockSel::Hash(hash(h, "blockHash")?));
        }
        if let Some(n) = obj.get("blockNumber") {
            return Ok(BlockSel::Number(quantity64(n, "blockNumber")?));
        }
        return Err(RpcError::params(
            "a block is a tag, a number or {\"blockHash\"}",
        ));
    }
    match v.as_str() {
        Some("latest" | "pending" | "safe" | "finalized") => Ok(BlockSel::Head),
        Some("earliest") => Ok(BlockSel::Number(0)),
        Some(s) if s.len() == 66 => Ok(BlockSel::Hash(hash(v, "block hash")?)),
        _ => Ok(BlockSel::Number(quantity64(v, "block number")?)),
    }
}

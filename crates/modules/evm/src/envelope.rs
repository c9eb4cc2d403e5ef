//! Signed Ethereum transactions: decoding with limits, sender recovery, and the rules that
//! need no state (chain id present, supported type, gas within bounds, price at least the base
//! fee, whole micro-units of value).

use crate::action::MAX_ETH_TX_BYTES;
use crate::units::{effective_gas_price, gas_fee, wei_to_micro, BASE_FEE_WEI};
use crate::{EvmError, Result, MAX_TX_GAS, MIN_TX_GAS};
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::keccak256;
use machina_primitives::{Address, Amount, Hash};
use revm::primitives::U256;

/// A decoded signed Ethereum transaction whose sender was recovered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthTx {
    /// Its Ethereum hash, the keccak-256 of its encoding: its id on this chain too.
    pub hash: Hash,
    /// 0 legacy, 1 EIP-2930, 2 EIP-1559.
    pub tx_type: u8,
    /// The recovered sender.
    pub sender: Address,
    /// The chain it was signed for.
    pub chain_id: u64,
    /// The sender's nonce.
    pub nonce: u64,
    /// Most gas it may use.
    pub gas_limit: u64,
    /// Most the sender pays per gas, wei (the gas price of a legacy or EIP-2930 transaction).
    pub max_fee_per_gas: u128,
    /// Most tip per gas, wei (the gas price again for legacy and EIP-2930).
    pub max_priority_fee_per_gas: u128,
    /// What it pays per gas here: the base fee and the tip in whole micro-units, wei.
    pub gas_price_wei: u128,
    /// The callee, or `None` for a contract creation.
    pub to: Option<Address>,
    /// Value sent, a whole number of micro-units.
    pub value: Amount,
    /// Call data or creation code.
    pub input: Vec<u8>,
    /// EIP-2930 access list: accounts and their storage keys.
    pub access_list: Vec<(Address, Vec<[u8; 32]>)>,
}

impl EthTx {
    /// The fee for its whole gas limit, paid up front; what it does not use returns after it
    /// ran.
    pub fn max_fee(&self) -> Amount {
        gas_fee(self.gas_limit, self.gas_price_wei)
            .expect("a gas limit within MAX_TX_GAS at a u128 price fits")
    }
}

/// Decodes `raw` (EIP-2718: a type byte and RLP, or legacy RLP), recovers its sender and
/// checks every rule that needs no state.
pub fn decode_ethereum(raw: &[u8]) -> Result<EthTx> {
    decode(raw, None)
}

/// Decodes a transaction whose sender was already recovered (by the stf, when it verified
/// the envelope), without recovering it again.
pub fn decode_with_sender(raw: &[u8], sender: Address) -> Result<EthTx> {
    decode(raw, Some(sender))
}

fn decode(raw: &[u8], sender: Option<Address>) -> Result<EthTx> {
    if raw.len() > MAX_ETH_TX_BYTES {
        return Err(EvmError::BadEthereumTx(format!(
            "{} bytes, at most {MAX_ETH_TX_BYTES}",
            raw.len()
        )));
    }
    let env =
        TxEnvelope::decode_2718_exact(raw).map_err(|e| EvmError::BadEthereumTx(e.to_string()))?;
    let tx_type = match &env {
        TxEnvelope::Legacy(_) => 0,
        TxEnvelope::Eip2930(_) => 1,
        TxEnvelope::Eip1559(_) => 2,
        TxEnvelope::Eip4844(_) => return Err(EvmError::UnsupportedTxType(3)),
        TxEnvelope::Eip7702(_) => return Err(EvmError::UnsupportedTxType(4)),
    };
    let chain_id = env.chain_id().ok_or(EvmError::NoChainId)?;
    let gas_limit = env.gas_limit();
    if !(MIN_TX_GAS..=MAX_TX_GAS).contains(&gas_limit) {
        return Err(EvmError::BadGasLimit {
            got: gas_limit,
            min: MIN_TX_GAS,
            max: MAX_TX_GAS,
        });
    }
    let max_fee = env.max_fee_per_gas();
    let tip = env.max_priority_fee_per_gas().unwrap_or(max_fee);
    let gas_price_wei = effective_gas_price(max_fee, tip).ok_or(EvmError::GasPriceTooLow {
        got: max_fee,
        base: BASE_FEE_WEI,
    })?;
    let value = whole_micro(env.value())?;
    let sender = match sender {
        Some(s) => s,
        None => crate::recover::recover_signer(env.signature(), env.signature_hash())
            .ok_or(EvmError::BadEthereumSignature)?,
    };
    let access_list = env
        .access_list()
        .map(|l| {
            l.iter()
                .map(|item| {
                    let keys = item.storage_keys.iter().map(|k| k.0).collect();
                    (Address(item.address.0 .0), keys)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(EthTx {
        hash: Hash(keccak256(raw).0),
        tx_type,
        sender,
        chain_id,
        nonce: env.nonce(),
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        gas_price_wei,
        to: env.to().map(|a| Address(a.0 .0)),
        value,
        input: env.input().to_vec(),
        access_list,
    })
}

/// The Ethereum hash of a raw transaction, without decoding it.
pub(crate) fn hash_raw(raw: &[u8]) -> Hash {
    Hash(keccak256(raw).0)
}

/// Wei as micro-units, refusing what is not a whole number of them.
pub(crate) fn whole_micro(wei: U256) -> Result<Amount> {
    wei_to_micro(wei).ok_or_else(|| EvmError::SubMicroValue(wei.to_string()))
}

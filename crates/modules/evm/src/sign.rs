//! Ethereum keys and signing, for the dev chain's accounts, tests and the benchmark: what a
//! wallet does on the other side of `eth_sendRawTransaction`.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Bytes, TxKind, U256};
use hmac::{Hmac, Mac};
use k256::ecdsa::SigningKey;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use machina_primitives::Address;
use sha2::Sha512;

/// The mnemonic whose accounts anvil and Hardhat fund by default, so their users' scripts and
/// configs work against a dev chain unchanged. Public: never hold value with it.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Accounts of [`DEV_MNEMONIC`] a dev chain funds.
pub const DEV_ETH_ACCOUNTS: usize = 10;

/// A secp256k1 key, as Ethereum wallets hold them.
#[derive(Clone)]
pub struct EthKey(SigningKey);

impl EthKey {
    /// The key with this 32-byte secret, if it is a valid scalar.
    pub fn from_secret(secret: &[u8; 32]) -> Option<EthKey> {
        SigningKey::from_slice(secret).ok().map(EthKey)
    }

    /// The secret, as `--private-key` takes it.
    pub fn secret_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0.to_bytes()))
    }

    /// The account: the last 20 bytes of the keccak-256 of the public key.
    pub fn address(&self) -> Address {
        let point = self.0.verifying_key().to_encoded_point(false);
        let hash = alloy_primitives::keccak256(&point.as_bytes()[1..]);
        Address(hash[12..].try_into().expect("20 bytes"))
    }

    fn sign_hash(&self, hash: &[u8; 32]) -> alloy_primitives::Signature {
        let (sig, recid) = self
            .0
            .sign_prehash_recoverable(hash)
            .expect("a 32-byte prehash signs");
        alloy_primitives::Signature::from((sig, recid))
    }
}

/// What to sign: an EIP-1559 call, transfer or creation.
#[derive(Clone, Debug)]
pub struct Unsigned {
    /// The chain.
    pub chain_id: u64,
    /// The sender's nonce.
    pub nonce: u64,
    /// The callee; `None` creates a contract.
    pub to: Option<Address>,
    /// Value, wei.
    pub value_wei: U256,
    /// Call data or creation code.
    pub input: Vec<u8>,
    /// Gas limit.
    pub gas_limit: u64,
    /// Most paid per gas, wei.
    pub max_fee_per_gas: u128,
    /// Most tip per gas, wei.
    pub max_priority_fee_per_gas: u128,
}

fn kind(to: Option<Address>) -> TxKind {
    match to {
        Some(a) => TxKind::Call(alloy_primitives::Address::from(a.0)),
        None => TxKind::Create,
    }
}

/// Signs `tx` as an EIP-1559 transaction and returns its EIP-2718 encoding.
pub fn sign_1559(key: &EthKey, tx: &Unsigned) -> Vec<u8> {
    let t = TxEip1559 {
        chain_id: tx.chain_id,
        nonce: tx.nonce,
        gas_limit: tx.gas_limit,
        max_fee_per_gas: tx.max_fee_per_gas,
        max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
        to: kind(tx.to),
        value: tx.value_wei,
        access_list: Default::default(),
        input: Bytes::from(tx.input.clone()),
    };
    let sig = key.sign_hash(&t.signature_hash().0);
    TxEnvelope::from(t.into_signed(sig)).encoded_2718()
}

/// Signs `tx` as a legacy EIP-155 transaction at `max_fee_per_gas` and returns its encoding.
pub fn sign_legacy(key: &EthKey, tx: &Unsigned) -> Vec<u8> {
    let t = TxLegacy {
        chain_id: Some(tx.chain_id),
        nonce: tx.nonce,
        gas_price: tx.max_fee_per_gas,
        gas_limit: tx.gas_limit,
        to: kind(tx.to),
        value: tx.value_wei,
        input: Bytes::from(tx.input.clone()),
    };
    let sig = key.sign_hash(&t.signature_hash().0);
    TxEnvelope::from(t.into_signed(sig)).encoded_2718()
}

/// The first `n` accounts of `mnemonic` on Ethereum's path `m/44'/60'/0'/0/i` (BIP-39 seed
/// without a passphrase, BIP-32 derivation), as wallets derive them.
pub fn mnemonic_keys(mnemonic: &str, n: usize) -> Vec<EthKey> {
    let seed = bip39_seed(mnemonic);
    let mut node = master(&seed);
    for index in [44, 60, 0] {
        node = child(&node, index | HARDENED);
    }
    node = child(&node, 0);
    (0..n as u32)
        .map(|i| {
            EthKey(SigningKey::from_slice(&child(&node, i).key).expect("derived keys are valid"))
        })
        .collect()
}

const HARDENED: u32 = 1 << 31;

struct Node {
    key: [u8; 32],
    chain_code: [u8; 32],
}

fn hmac512(key: &[u8], parts: &[&[u8]]) -> [u8; 64] {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA512 with 2,048 rounds and the salt "mnemonic": one 64-byte block.
fn bip39_seed(mnemonic: &str) -> [u8; 64] {
    let mut u = hmac512(mnemonic.as_bytes(), &[b"mnemonic", &1u32.to_be_bytes()]);
    let mut out = u;
    for _ in 1..2048 {
        u = hmac512(mnemonic.as_bytes(), &[&u]);
        for (o, b) in out.iter_mut().zip(u) {
            *o ^= b;
        }
    }
    out
}

fn split(i: [u8; 64]) -> ([u8; 32], [u8; 32]) {
    (
        i[..32].try_into().expect("32"),
        i[32..].try_into().expect("32"),
    )
}

fn master(seed: &[u8; 64]) -> Node {
    let (key, chain_code) = split(hmac512(b"Bitcoin seed", &[seed]));
    Node { key, chain_code }
}

fn child(parent: &Node, index: u32) -> Node {
    let secret = k256::SecretKey::from_slice(&parent.key).expect("valid parent key");
    let i = if index & HARDENED != 0 {
        hmac512(
            &parent.chain_code,
            &[&[0u8], &parent.key, &index.to_be_bytes()],
        )
    } else {
        let public = secret.public_key().to_encoded_point(true);
        hmac512(
            &parent.chain_code,
            &[public.as_bytes(), &index.to_be_bytes()],
        )
    };
    let (tweak, chain_code) = split(i);
    let tweak = k256::NonZeroScalar::try_from(&tweak[..]).expect("tweak below the order");
    let key = *secret.to_nonzero_scalar() + *tweak;
    Node {
        key: key.to_bytes().into(),
        chain_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_mnemonic_gives_anvils_accounts() {
        let keys = mnemonic_keys(DEV_MNEMONIC, 3);
        assert_eq!(
            keys[0].secret_hex(),
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        );
        assert_eq!(
            keys[0].address().to_string().to_lowercase(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        assert_eq!(
            keys[1].secret_hex(),
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
        );
        assert_eq!(
            keys[1].address().to_string().to_lowercase(),
            "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
        );
        assert_eq!(
            keys[2].address().to_string().to_lowercase(),
            "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
        );
    }

    #[test]
    fn a_signed_transaction_recovers_to_its_signer() {
        let key = mnemonic_keys(DEV_MNEMONIC, 1).remove(0);
        let tx = Unsigned {
            chain_id: 7,
            nonce: 3,
            to: Some(Address([9; 20])),
            value_wei: U256::from(crate::WEI_PER_MICRO * 5),
            input: vec![],
            gas_limit: 21_000,
            max_fee_per_gas: 2 * crate::BASE_FEE_WEI,
            max_priority_fee_per_gas: 0,
        };
        for raw in [sign_1559(&key, &tx), sign_legacy(&key, &tx)] {
            let eth = crate::decode_ethereum(&raw).expect("decodes");
            assert_eq!(eth.sender, key.address());
            assert_eq!(eth.nonce, 3);
            assert_eq!(eth.value, machina_primitives::Amount(5));
        }
    }
}

//! Transactions: what a sender signs, and the actions it asks for.
//!
//! Generic over the action type: the state transition function owns the list of modules and
//! so the action enum (`machina_stf::Action`); this layer only frames, signs and hashes.

use crate::codec::{put_vec, Decode, Encode, Reader, Result};
use crate::crypto::{Keypair, PublicKey, SigCheck, Signature};
use crate::limits::{MAX_ACTIONS_PER_TX, MAX_SIGNATURES_PER_TX};
use crate::{sha256, Address, Amount, CodecError, Hash};
use serde::{Deserialize, Serialize};

/// Version byte at the start of every encoded transaction body.
pub const TX_VERSION: u8 = 1;

/// Domain prefix of the message a sender signs.
const SIGNING_DOMAIN: &[u8] = b"machina/tx/v1";

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxBody<A> {
    /// The chain this transaction is for; other chains reject it.
    pub chain_id: u64,
    /// The account that pays the fee and whose nonce advances.
    pub sender: Address,
    /// Must equal the sender's next nonce: nonces are strictly sequential.
    pub nonce: u64,
    /// Micro-units paid to the block producer once signature and nonce check out.
    pub fee: Amount,
    /// Last height at which the transaction may be included.
    pub expiry_height: u64,
    /// An account that pays the fee instead of the sender, within a fee allowance it granted
    /// the sender (fee sponsorship). `None`: the sender pays.
    #[serde(default)]
    pub fee_payer: Option<Address>,
    /// What to do, executed in order, all or nothing.
    pub actions: Vec<A>,
}

impl<A: Encode> Encode for TxBody<A> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(TX_VERSION);
        self.chain_id.encode_to(out);
        self.sender.encode_to(out);
        self.nonce.encode_to(out);
        self.fee.encode_to(out);
        self.expiry_height.encode_to(out);
        self.fee_payer.encode_to(out);
        put_vec(out, &self.actions);
    }
}

impl<A: Decode> Decode for TxBody<A> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let version = r.u8()?;
        if version != TX_VERSION {
            return Err(CodecError::BadTag {
                what: "transaction version",
                tag: version,
            });
        }
        Ok(TxBody {
            chain_id: r.u64()?,
            sender: Address::decode_from(r)?,
            nonce: r.u64()?,
            fee: Amount::decode_from(r)?,
            expiry_height: r.u64()?,
            fee_payer: Decode::decode_from(r)?,
            actions: r.vec("actions", MAX_ACTIONS_PER_TX)?,
        })
    }
}

/// One signature on a transaction, with the key that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxSignature {
    /// The signing key.
    pub public_key: PublicKey,
    /// ed25519 signature over the signing message of the body.
    pub signature: Signature,
}

impl Encode for TxSignature {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.public_key.0);
        out.extend_from_slice(&self.signature.0);
    }
}

impl Decode for TxSignature {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(TxSignature {
            public_key: PublicKey(r.array()?),
            signature: Signature(r.array()?),
        })
    }
}

/// A signed transaction. Its id is the hash of its body (see [`Transaction::hash`]).
///
/// Which keys may sign for the sender is decided by the sender's account (see the `bank`
/// module), not by the transaction: a plain account is authorised by the key its address came
/// from, and later account kinds (rotating machine keys, multisig) keep their address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction<A> {
    /// What was signed.
    pub body: TxBody<A>,
    /// One or more signatures over the body.
    pub signatures: Vec<TxSignature>,
}

impl<A: Encode> Encode for Transaction<A> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.body.encode_to(out);
        put_vec(out, &self.signatures);
    }
}

impl<A: Decode> Decode for Transaction<A> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Transaction {
            body: TxBody::decode_from(r)?,
            signatures: r.vec("signatures", MAX_SIGNATURES_PER_TX)?,
        })
    }
}

impl<A: Encode> TxBody<A> {
    /// The bytes each signer signs: a domain prefix and the canonical body.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut m = SIGNING_DOMAIN.to_vec();
        self.encode_to(&mut m);
        m
    }

    /// Signs the body with each of `keys`.
    pub fn sign(self, keys: &[&Keypair]) -> Transaction<A> {
        let msg = self.signing_message();
        let signatures = keys
            .iter()
            .map(|k| TxSignature {
                public_key: k.public(),
                signature: k.sign(&msg),
            })
            .collect();
        Transaction {
            body: self,
            signatures,
        }
    }
}

/// An action that can carry a whole transaction signed under another chain's rules: the `evm`
/// module's envelope of an Ethereum transaction. A transaction made of one such action and no
/// Machina signatures takes the foreign transaction's id, so that the foreign chain's tools
/// (which compute it themselves) find it.
pub trait Envelope {
    /// The carried transaction's id, when this action is an envelope.
    fn foreign_id(&self) -> Option<Hash> {
        None
    }
}

impl<A: Encode + Envelope> Transaction<A> {
    /// The transaction id: SHA-256 of a domain prefix and the canonical body, what the
    /// signers signed. Signatures are left out so that nobody can change a transaction's id
    /// by reordering, repeating or adding signatures; one body (one sender and nonce) is one
    /// transaction whatever signatures carry it. An envelope's id is the carried
    /// transaction's (see [`Envelope`]).
    pub fn hash(&self) -> Hash {
        if let ([], [only]) = (self.signatures.as_slice(), self.body.actions.as_slice()) {
            if let Some(id) = only.foreign_id() {
                return id;
            }
        }
        sha256(&[b"machina/txid/v1", &self.body.encode()])
    }
}

impl<A: Encode> Transaction<A> {
    /// Checks every signature on each of `txs` (batched, on all cores). A transaction is valid
    /// when it has at least one signature and all of its signatures verify.
    pub fn verify_signatures(txs: &[Transaction<A>]) -> Vec<bool> {
        let msgs: Vec<Vec<u8>> = txs.iter().map(|t| t.body.signing_message()).collect();
        let mut checks = Vec::with_capacity(txs.len());
        let mut owner = Vec::with_capacity(txs.len());
        for (i, (tx, msg)) in txs.iter().zip(&msgs).enumerate() {
            for s in &tx.signatures {
                checks.push(SigCheck {
                    msg,
                    key: &s.public_key,
                    sig: &s.signature,
                });
                owner.push(i);
            }
        }
        let mut ok: Vec<bool> = txs.iter().map(|t| !t.signatures.is_empty()).collect();
        for (valid, i) in crate::crypto::verify_many(&checks).into_iter().zip(owner) {
            ok[i] &= valid;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_TX_BYTES;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A stand-in for the stf's action enum.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum TestAction {
        #[codec(tag = 1)]
        Transfer { to: Address, amount: Amount },
    }

    impl Envelope for TestAction {}

    type Transaction = super::Transaction<TestAction>;

    fn transfer(nonce: u64, amount: u128) -> Transaction {
        let alice = Keypair::dev("alice");
        TxBody {
            chain_id: 1,
            sender: alice.address(),
            nonce,
            fee: Amount(10),
            expiry_height: 100,
            fee_payer: None,
            actions: vec![TestAction::Transfer {
                to: Keypair::dev("bob").address(),
                amount: Amount(amount),
            }],
        }
        .sign(&[&alice])
    }

    proptest! {
        #[test]
        fn transactions_round_trip_through_the_codec(nonce in any::<u64>(), amount in any::<u128>()) {
            let tx = transfer(nonce, amount);
            let bytes = tx.encode();
            prop_assert_eq!(Transaction::decode_exact(&bytes, MAX_TX_BYTES), Ok(tx.clone()));
            let json = serde_json::to_string(&tx).expect("json");
            prop_assert_eq!(serde_json::from_str::<Transaction>(&json).expect("parse"), tx);
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Transaction::decode_exact(&bytes, MAX_TX_BYTES);
        }

        #[test]
        fn every_truncation_of_a_valid_transaction_is_rejected(cut in 0usize..200) {
            let bytes = transfer(1, 2).encode();
            let cut = cut % bytes.len();
            prop_assert!(Transaction::decode_exact(&bytes[..cut], MAX_TX_BYTES).is_err());
        }
    }

    #[test]
    fn signatures_verify_and_a_changed_body_does_not() {
        let good = transfer(0, 5);
        let mut bad = transfer(0, 5);
        bad.body.nonce = 1;
        assert_eq!(
            Transaction::verify_signatures(&[good, bad]),
            vec![true, false]
        );
    }

    #[test]
    fn extra_or_reordered_signatures_do_not_change_the_id() {
        let tx = transfer(0, 5);
        let mut padded = tx.clone();
        padded.signatures.push(padded.signatures[0].clone());
        let other = Keypair::dev("mallory");
        padded.signatures.push(TxSignature {
            public_key: other.public(),
            signature: other.sign(&tx.body.signing_message()),
        });
        padded.signatures.reverse();
        assert_eq!(padded.hash(), tx.hash());
        let mut changed = tx.clone();
        changed.body.nonce += 1;
        assert_ne!(changed.hash(), tx.hash());
    }

    #[test]
    fn a_transaction_without_signatures_is_not_valid() {
        let mut tx = transfer(0, 5);
        tx.signatures.clear();
        assert_eq!(Transaction::verify_signatures(&[tx]), vec![false]);
    }

    #[test]
    fn oversize_transaction_bytes_are_rejected() {
        let bytes = vec![1u8; MAX_TX_BYTES + 1];
        assert!(matches!(
            Transaction::decode_exact(&bytes, MAX_TX_BYTES),
            Err(CodecError::Oversize { .. })
        ));
    }

    #[test]
    fn too_many_actions_are_rejected_by_the_decoder() {
        let mut tx = transfer(0, 1);
        let a = tx.body.actions[0].clone();
        tx.body.actions = vec![a; MAX_ACTIONS_PER_TX + 1];
        assert!(matches!(
            Transaction::decode_exact(&tx.encode(), MAX_TX_BYTES),
            Err(CodecError::TooLong {
                what: "actions",
                ..
            })
        ));
    }
}

//! Sender recovery on libsecp256k1, the C library of Bitcoin Core that reth and revm's
//! `ecrecover` use: recovery bounds how fast Ethereum transactions enter the chain, and it
//! recovers several times faster than the pure-Rust k256 (signing stays on k256).
//!
//! The rules are Ethereum's, as alloy applies them: `s` at most half the group order (EIP-2),
//! `r` and `s` in range, the y parity choosing the point.

use alloy_consensus::crypto::SECP256K1N_HALF;
use alloy_primitives::{keccak256, Signature, B256};
use machina_primitives::Address;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::Message;

/// The address whose key made `signature` over `prehash`, or `None` when it recovers to no key
/// or breaks a rule above.
pub fn recover_signer(signature: &Signature, prehash: B256) -> Option<Address> {
    if signature.s() > SECP256K1N_HALF {
        return None;
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&signature.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&signature.s().to_be_bytes::<32>());
    let id = RecoveryId::try_from(i32::from(signature.v())).ok()?;
    let key = RecoverableSignature::from_compact(&compact, id)
        .ok()?
        .recover(Message::from_digest(prehash.0))
        .ok()?;
    let hash = keccak256(&key.serialize_uncompressed()[1..]);
    Some(Address(hash.0[12..].try_into().expect("20 of 32 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;
    use k256::ecdsa::SigningKey;
    use proptest::prelude::*;

    /// The group order n.
    fn order() -> U256 {
        SECP256K1N_HALF * U256::from(2) + U256::from(1)
    }

    fn sign(secret: [u8; 32], prehash: [u8; 32]) -> Option<(Signature, Address)> {
        let key = SigningKey::from_bytes(&secret.into()).ok()?;
        let (sig, id) = key.sign_prehash_recoverable(&prehash).ok()?;
        let signature = Signature::from_signature_and_parity(sig, id.is_y_odd());
        let signer = signature
            .recover_address_from_prehash(&B256::from(prehash))
            .ok()?;
        Some((signature, Address(signer.0 .0)))
    }

    proptest! {
        #[test]
        fn libsecp256k1_recovers_what_k256_recovers(secret in any::<[u8; 32]>(), prehash in any::<[u8; 32]>()) {
            let Some((signature, signer)) = sign(secret, prehash) else { return Ok(()) };
            prop_assert_eq!(recover_signer(&signature, B256::from(prehash)), Some(signer));
            // Another message recovers to another key, or to none.
            let mut other = prehash;
            other[0] ^= 1;
            prop_assert_ne!(recover_signer(&signature, B256::from(other)), Some(signer));
        }

        #[test]
        fn the_high_s_twin_of_a_signature_is_refused(secret in any::<[u8; 32]>(), prehash in any::<[u8; 32]>()) {
            let Some((signature, _)) = sign(secret, prehash) else { return Ok(()) };
            // (r, n - s) with the other parity is the same point's malleable twin (EIP-2).
            let twin = Signature::new(signature.r(), order() - signature.s(), !signature.v());
            prop_assert_eq!(recover_signer(&twin, B256::from(prehash)), None);
        }

        #[test]
        fn any_r_and_s_are_answered_without_a_panic(r in any::<[u8; 32]>(), s in any::<[u8; 32]>(), v: bool, prehash in any::<[u8; 32]>()) {
            let signature = Signature::new(U256::from_be_bytes(r), U256::from_be_bytes(s), v);
            let _ = recover_signer(&signature, B256::from(prehash));
        }
    }

    #[test]
    fn zero_and_out_of_range_scalars_recover_nothing() {
        let h = B256::from([7u8; 32]);
        for (r, s) in [
            (U256::ZERO, U256::from(1)),
            (U256::from(1), U256::ZERO),
            (order(), U256::from(1)),
        ] {
            assert_eq!(recover_signer(&Signature::new(r, s, false), h), None);
        }
    }
}

//! ed25519 keys and signatures, with batch verification spread over all cores.

use crate::hash::sha256;
use crate::hex_serde::hex_bytes_serde;
use crate::Address;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use std::collections::HashMap;
use std::fmt;

/// An ed25519 public key as raw bytes. Whether the bytes are a valid curve point is checked
/// when a signature is verified against it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature as raw bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

hex_bytes_serde!(PublicKey, 32, "a 32-byte hex ed25519 public key");
hex_bytes_serde!(Signature, 64, "a 64-byte hex ed25519 signature");

impl PublicKey {
    /// The address of the plain account this key authorises.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.0)
    }

    /// Verifies one signature over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> bool {
        let Ok(vk) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig.0))
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(0x{})", hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(0x{}..)", hex::encode(&self.0[..8]))
    }
}

/// An ed25519 signing key.
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl Keypair {
    /// A new key from the operating system's random source.
    pub fn generate() -> Keypair {
        Keypair(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key with this 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair(SigningKey::from_bytes(&seed))
    }

    /// The well-known key of a dev account, derived from its name, so that any tool can sign
    /// as `alice` on a dev chain. Never fund such a key on a real network.
    pub fn dev(name: &str) -> Keypair {
        Keypair::from_seed(sha256(&[b"machina/dev-key/v1/", name.as_bytes()]).0)
    }

    /// The secret seed (for the keystore).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The address of the plain account this key authorises.
    pub fn address(&self) -> Address {
        self.public().address()
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({:?})", self.public())
    }
}

/// One signature to check: the message, the key and the signature.
#[derive(Clone, Copy)]
pub struct SigCheck<'a> {
    /// The signed message.
    pub msg: &'a [u8],
    /// The key that claims to have signed.
    pub key: &'a PublicKey,
    /// The signature.
    pub sig: &'a Signature,
}

/// Below this many signatures per thread, spawning costs more than it saves.
const MIN_SIGS_PER_THREAD: usize = 64;

/// Verifies many signatures and returns, for each, whether it is valid.
///
/// Work is split over all cores; each share is checked as one ed25519 batch, and only a share
/// whose batch fails is checked one by one to find the culprits. So an honest batch costs one
/// batch verification and a dishonest one costs at most one extra pass over its share.
pub fn verify_many(checks: &[SigCheck<'_>]) -> Vec<bool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = checks.len().div_ceil(threads).max(MIN_SIGS_PER_THREAD);
    if checks.len() <= per {
        return verify_share(checks);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = checks
            .chunks(per)
            .map(|share| s.spawn(move || verify_share(share)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signature verification thread panicked"))
            .collect()
    })
}

fn verify_share(checks: &[SigCheck<'_>]) -> Vec<bool> {
    // Decompressing a key costs a square root, a large part of a verification; a device that
    // signed many readings in the batch is decompressed once.
    let mut cache: HashMap<[u8; 32], VerifyingKey> = HashMap::new();
    let mut keys = Vec::with_capacity(checks.len());
    for c in checks {
        let key = match cache.get(&c.key.0) {
            Some(k) => *k,
            None => match VerifyingKey::from_bytes(&c.key.0) {
                Ok(k) => *cache.entry(c.key.0).or_insert(k),
                // An invalid point can't be batched; fall back to checking each.
                Err(_) => return checks.iter().map(|c| c.key.verify(c.msg, c.sig)).collect(),
            },
        };
        keys.push(key);
    }
    let msgs: Vec<&[u8]> = checks.iter().map(|c| c.msg).collect();
    let sigs: Vec<ed25519_dalek::Signature> = checks
        .iter()
        .map(|c| ed25519_dalek::Signature::from_bytes(&c.sig.0))
        .collect();
    if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
        return vec![true; checks.len()];
    }
    checks.iter().map(|c| c.key.verify(c.msg, c.sig)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_keys_are_deterministic_and_distinct() {
        assert_eq!(
            Keypair::dev("alice").public(),
            Keypair::dev("alice").public()
        );
        assert_ne!(Keypair::dev("alice").public(), Keypair::dev("bob").public());
    }

    #[test]
    fn batch_verification_finds_the_one_bad_signature() {
        let keys: Vec<Keypair> = (0..300u32)
            .map(|i| Keypair::from_seed(sha256(&[&i.to_be_bytes()]).0))
            .collect();
        let msgs: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let pubs: Vec<PublicKey> = keys.iter().map(Keypair::public).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        sigs[217] = keys[217].sign(b"something else");
        let checks: Vec<SigCheck> = (0..300)
            .map(|i| SigCheck {
                msg: &msgs[i],
                key: &pubs[i],
                sig: &sigs[i],
            })
            .collect();
        let ok = verify_many(&checks);
        assert_eq!(ok.iter().filter(|v| !**v).count(), 1);
        assert!(!ok[217]);
    }

    #[test]
    fn an_invalid_public_key_fails_verification() {
        let k = Keypair::dev("alice");
        let sig = k.sign(b"m");
        // Not every 32-byte string is a point; find one that is not.
        let bad = (0u8..=255)
            .map(|b| PublicKey([b; 32]))
            .find(|pk| VerifyingKey::from_bytes(&pk.0).is_err())
            .expect("some constant byte string is not a point");
        assert!(!bad.verify(b"m", &sig));
        assert!(
            verify_many(&[SigCheck {
                msg: b"m",
                key: &bad,
                sig: &sig
            }]) == vec![false]
        );
    }
}

//! ed25519 keys and signatures, with batch verification spread over all cores.
//!
//! Verification follows ZIP-215 (the `ed25519-zebra` crate, whose rules `ed25519-consensus` and
//! Commonware share): single and batch verification accept exactly the same signatures, so
//! whether a signature is valid never depends on what it was batched with or on how many cores
//! shared the work. It runs on curve25519-dalek 5, which picks its AVX2 backend at run time. (Plain ed25519 batch equations
//! can accept a signature that strict single verification refuses, which would make a replay
//! on another machine reach another state.)

use crate::hash::sha256;
use crate::hex_serde::hex_bytes_serde;
use crate::Address;
use ed25519_zebra::{batch, SigningKey, VerificationKey, VerificationKeyBytes};
use sha2::{Digest, Sha512};
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
    /// Parses `0x`-prefixed or bare hex of exactly 32 bytes.
    pub fn from_hex(s: &str) -> Option<PublicKey> {
        crate::hex_serde::parse_fixed::<32>(s).map(PublicKey)
    }

    /// The address of the plain account this key authorises.
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.0)
    }

    /// Verifies one signature over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> bool {
        let Ok(vk) = VerificationKey::try_from(self.0) else {
            return false;
        };
        vk.verify(&ed25519_zebra::Signature::from_bytes(&sig.0), msg)
            .is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
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
        let mut seed = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        Keypair::from_seed(seed)
    }

    /// The key with this 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair(SigningKey::from(seed))
    }

    /// The well-known key of a dev account, derived from its name, so that any tool can sign
    /// as `alice` on a dev chain. Never fund such a key on a real network.
    pub fn dev(name: &str) -> Keypair {
        Keypair::from_seed(sha256(&[b"machina/dev-key/v1/", name.as_bytes()]).0)
    }

    /// The secret seed (for the keystore).
    pub fn seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(self.0.as_ref());
        seed
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(VerificationKeyBytes::from(&self.0).into())
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
    // Signatures by the same key go to the same share: a batch decompresses each distinct
    // key once (a gateway's batch often holds several readings of each device).
    let mut order: Vec<usize> = (0..checks.len()).collect();
    order.sort_by_key(|&i| checks[i].key.0);
    let sorted: Vec<SigCheck<'_>> = order.iter().map(|&i| checks[i]).collect();
    let verdicts: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = sorted
            .chunks(per)
            .map(|share| s.spawn(move || verify_share(share)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signature verification thread panicked"))
            .collect()
    });
    let mut out = vec![false; checks.len()];
    for (&i, ok) in order.iter().zip(verdicts) {
        out[i] = ok;
    }
    out
}

fn verify_share(checks: &[SigCheck<'_>]) -> Vec<bool> {
    let mut verifier = batch::Verifier::new();
    for c in checks {
        verifier.queue((
            VerificationKeyBytes::from(c.key.0),
            ed25519_zebra::Signature::from_bytes(&c.sig.0),
            c.msg,
        ));
    }
    if verifier.verify(BatchRng::for_checks(checks)).is_ok() {
        return vec![true; checks.len()];
    }
    checks.iter().map(|c| c.key.verify(c.msg, c.sig)).collect()
}

/// The random coefficients of a batch, drawn from a hash of everything in it: no randomness
/// enters a layer that must not read any, and a signer cannot choose them without changing
/// the batch. (Under ZIP-215 the coefficients decide nothing about validity; they only make
/// forging a passing batch infeasible.)
struct BatchRng {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl BatchRng {
    fn for_checks(checks: &[SigCheck<'_>]) -> BatchRng {
        let mut h = Sha512::new();
        h.update(b"machina/batch-verify/v1");
        for c in checks {
            h.update(c.key.0);
            h.update(c.sig.0);
            h.update((c.msg.len() as u64).to_be_bytes());
            h.update(c.msg);
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&h.finalize()[..32]);
        BatchRng {
            seed,
            counter: 0,
            block: [0u8; 64],
            used: 64,
        }
    }
}

impl rand_core_010::TryRng for BatchRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dest {
            if self.used == 64 {
                let mut h = Sha512::new();
                h.update(self.seed);
                h.update(self.counter.to_be_bytes());
                self.block.copy_from_slice(&h.finalize());
                self.counter += 1;
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
        Ok(())
    }
}

impl rand_core_010::TryCryptoRng for BatchRng {}

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
    fn a_signatures_verdict_does_not_depend_on_its_batch() {
        // The identity key with R = identity and s = 0: a degenerate signature whose fate
        // differed between batch and strict single verification in plain ed25519.
        let mut id_key = [0u8; 32];
        id_key[0] = 1;
        let mut degenerate = [0u8; 64];
        degenerate[0] = 1;
        let (key, sig) = (PublicKey(id_key), Signature(degenerate));
        let keys: Vec<Keypair> = (0..100u32)
            .map(|i| Keypair::from_seed(sha256(&[&i.to_be_bytes()]).0))
            .collect();
        let pubs: Vec<PublicKey> = keys.iter().map(Keypair::public).collect();
        let msgs: Vec<Vec<u8>> = (0..100u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        sigs[3] = keys[4].sign(b"wrong");
        for size in [1usize, 2, 7, 64, 100] {
            let mut checks: Vec<SigCheck> = (0..size)
                .map(|i| SigCheck {
                    msg: &msgs[i],
                    key: &pubs[i],
                    sig: &sigs[i],
                })
                .collect();
            checks.push(SigCheck {
                msg: b"anything",
                key: &key,
                sig: &sig,
            });
            let batched = verify_many(&checks);
            let single: Vec<bool> = checks.iter().map(|c| c.key.verify(c.msg, c.sig)).collect();
            assert_eq!(batched, single, "batch of {size}");
        }
    }

    #[test]
    fn an_invalid_public_key_fails_verification() {
        let k = Keypair::dev("alice");
        let sig = k.sign(b"m");
        // Not every 32-byte string is a point; find one that is not.
        let bad = (0u8..=255)
            .map(|b| PublicKey([b; 32]))
            .find(|pk| VerificationKey::try_from(pk.0).is_err())
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

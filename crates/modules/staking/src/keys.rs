//! The state keys the staking module owns, all under `staking/`.

use crate::Subject;
use machina_primitives::{Address, Encode};

fn subject(prefix: &[u8], s: &Subject) -> Vec<u8> {
    let mut k = prefix.to_vec();
    s.encode_to(&mut k);
    k
}

/// Total bonded for a subject.
pub(crate) fn total(s: &Subject) -> Vec<u8> {
    subject(b"staking/total/", s)
}

/// One bonder's part for a subject. The subject's encoding is length-prefixed where it varies,
/// so no two (subject, bonder) pairs share a key.
pub(crate) fn bond(s: &Subject, bonder: &Address) -> Vec<u8> {
    let mut k = subject(b"staking/bond/", s);
    k.extend_from_slice(&bonder.0);
    k
}

/// Pending unbondings of an account.
pub(crate) fn pending(owner: &Address) -> Vec<u8> {
    [b"staking/pending/".as_slice(), &owner.0].concat()
}

/// How many unbondings mature at a height.
pub(crate) fn due_count(height: u64) -> Vec<u8> {
    [b"staking/due_count/".as_slice(), &height.to_be_bytes()].concat()
}

/// The `i`th unbonding maturing at a height.
pub(crate) fn due(height: u64, i: u64) -> Vec<u8> {
    [
        b"staking/due/".as_slice(),
        &height.to_be_bytes(),
        &i.to_be_bytes(),
    ]
    .concat()
}

/// The module's parameters.
pub(crate) fn params() -> Vec<u8> {
    b"staking/params".to_vec()
}

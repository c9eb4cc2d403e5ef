//! The state keys the staking module owns, all under `staking/`.

use crate::Subject;
use machina_primitives::{Address, Encode, Hash};

/// A subject's stake: its bonds, its unbondings, its jail term and what it lost. The subject's
/// encoding is length-prefixed where it varies, so no two subjects share a key.
pub(crate) fn subject(s: &Subject) -> Vec<u8> {
    let mut k = b"staking/subject/".to_vec();
    s.encode_to(&mut k);
    k
}

/// The subjects an account backs and its pending unbondings.
pub(crate) fn account(owner: &Address) -> Vec<u8> {
    [b"staking/account/".as_slice(), &owner.0].concat()
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

/// Evidence already used, by its id: the height it was used at.
pub(crate) fn evidence(id: &Hash) -> Vec<u8> {
    [b"staking/evidence/".as_slice(), &id.0].concat()
}

/// The validator set written at genesis.
pub(crate) fn validators() -> Vec<u8> {
    b"staking/validators".to_vec()
}

/// The module's parameters.
pub(crate) fn params() -> Vec<u8> {
    b"staking/params".to_vec()
}

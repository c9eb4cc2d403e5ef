//! The state keys the identity module owns.

use machina_primitives::{Address, PublicKey};

pub(crate) fn next_id() -> Vec<u8> {
    b"identity/next_id".to_vec()
}

pub(crate) fn machine(id: u64) -> Vec<u8> {
    [b"identity/machine/".as_slice(), &id.to_be_bytes()].concat()
}

pub(crate) fn device(key: &PublicKey) -> Vec<u8> {
    [b"identity/device/".as_slice(), &key.0].concat()
}

pub(crate) fn manufacturer(key: &PublicKey) -> Vec<u8> {
    [b"identity/manufacturer/".as_slice(), &key.0].concat()
}

pub(crate) fn owner_count(owner: &Address) -> Vec<u8> {
    [b"identity/owner_count/".as_slice(), &owner.0].concat()
}

pub(crate) fn owner_slot(owner: &Address, slot: u64) -> Vec<u8> {
    [b"identity/owner/".as_slice(), &owner.0, &slot.to_be_bytes()].concat()
}

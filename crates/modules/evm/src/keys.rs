//! The state keys the evm module owns: contract code and contract storage. Balances and
//! nonces are the bank's.

use machina_primitives::Address;

/// Prefix of every evm key.
const PREFIX: &[u8] = b"evm/";

/// Key of a contract's code: the value is its keccak-256 hash followed by the code.
pub(crate) fn code(addr: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(PREFIX.len() + 5 + 20);
    k.extend_from_slice(PREFIX);
    k.extend_from_slice(b"code/");
    k.extend_from_slice(&addr.0);
    k
}

/// Key of one storage slot of a contract; slots holding zero are not stored.
pub(crate) fn slot(addr: &Address, slot: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(PREFIX.len() + 5 + 20 + 32);
    k.extend_from_slice(PREFIX);
    k.extend_from_slice(b"slot/");
    k.extend_from_slice(&addr.0);
    k.extend_from_slice(slot);
    k
}

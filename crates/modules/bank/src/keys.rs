//! The state keys the bank owns. Other modules go through the bank's functions, never these.

use machina_primitives::Address;

/// Prefix of every bank key.
const PREFIX: &[u8] = b"bank/";

/// Key of an account record.
pub(crate) fn account(addr: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(PREFIX.len() + 5 + 20);
    k.extend_from_slice(PREFIX);
    k.extend_from_slice(b"acct/");
    k.extend_from_slice(&addr.0);
    k
}

/// Key of the total supply.
pub(crate) fn supply() -> Vec<u8> {
    b"bank/supply".to_vec()
}

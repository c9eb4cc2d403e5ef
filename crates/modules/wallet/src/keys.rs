//! The state keys the wallet module owns.

use machina_primitives::{Address, PublicKey};

pub(crate) fn policy(account: &Address) -> Vec<u8> {
    [b"wallet/policy/".as_slice(), &account.0].concat()
}

pub(crate) fn spend(account: &Address) -> Vec<u8> {
    [b"wallet/spend/".as_slice(), &account.0].concat()
}

pub(crate) fn session(account: &Address, key: &PublicKey) -> Vec<u8> {
    [b"wallet/session/".as_slice(), &account.0, &key.0].concat()
}

pub(crate) fn allowance(sponsor: &Address, grantee: &Address) -> Vec<u8> {
    [b"wallet/allowance/".as_slice(), &sponsor.0, &grantee.0].concat()
}

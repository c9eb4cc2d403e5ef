//! 20-byte account addresses.
//!
//! Twenty bytes so that EVM accounts can later share the same balance space. A plain account's
//! address is derived from the ed25519 public key that authorises it; the address then stays
//! fixed even if the account's authorisation changes (key rotation, multisig).

use crate::hash::sha256;
use crate::hex_serde::{hex_bytes_serde, parse_fixed};
use std::fmt;

/// A 20-byte account address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 20]);

hex_bytes_serde!(Address, 20, "a 20-byte hex address");

impl Address {
    /// Derives the address of a plain account from its ed25519 public key:
    /// the first 20 bytes of `SHA-256("machina/address/v1" || public_key)`.
    pub fn from_public_key(pk: &[u8; 32]) -> Address {
        Address::derive(&[b"machina/address/v1", pk])
    }

    /// An address no key derives: the first 20 bytes of `SHA-256` over `parts`, the first of
    /// which names what the address is for (a machine's account, a module's escrow, ...).
    pub fn derive(parts: &[&[u8]]) -> Address {
        let h = sha256(parts);
        let mut a = [0u8; 20];
        a.copy_from_slice(&h.0[..20]);
        Address(a)
    }

    /// Parses `0x`-prefixed (or bare) hex of exactly 20 bytes.
    pub fn from_hex(s: &str) -> Option<Address> {
        parse_fixed::<20>(s).map(Address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl std::str::FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Address::from_hex(s).ok_or_else(|| format!("not a 20-byte hex address: {s}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_parses_its_own_display() {
        let a = Address::from_public_key(&[7u8; 32]);
        assert_eq!(a.to_string().parse::<Address>(), Ok(a));
        assert!("0x12".parse::<Address>().is_err());
    }

    #[test]
    fn different_keys_give_different_addresses() {
        assert_ne!(
            Address::from_public_key(&[1u8; 32]),
            Address::from_public_key(&[2u8; 32])
        );
    }
}

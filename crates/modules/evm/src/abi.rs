//! The few Solidity ABI shapes the precompiles take and return: static words and strings.

use alloy_primitives::{keccak256, U256};
use machina_primitives::Address;

/// The 4-byte selector of a function signature such as `balanceOf(address)`.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// Arguments after the selector, read word by word; every read checks its bounds.
pub(crate) struct Args<'a> {
    data: &'a [u8],
}

/// Why arguments did not decode.
pub(crate) type AbiError = String;

impl<'a> Args<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Args { data }
    }

    fn word(&self, i: usize) -> Result<&'a [u8], AbiError> {
        self.data
            .get(i * 32..i * 32 + 32)
            .ok_or_else(|| format!("argument {i} is missing"))
    }

    /// Argument `i` as an unsigned integer that must fit a `u64`.
    pub(crate) fn u64(&self, i: usize) -> Result<u64, AbiError> {
        let w = self.word(i)?;
        if w[..24].iter().any(|b| *b != 0) {
            return Err(format!("argument {i} does not fit 64 bits"));
        }
        Ok(u64::from_be_bytes(w[24..].try_into().expect("8 bytes")))
    }

    /// Argument `i` as an unsigned integer.
    pub(crate) fn u256(&self, i: usize) -> Result<U256, AbiError> {
        Ok(U256::from_be_slice(self.word(i)?))
    }

    /// Argument `i` as an address.
    pub(crate) fn address(&self, i: usize) -> Result<Address, AbiError> {
        let w = self.word(i)?;
        if w[..12].iter().any(|b| *b != 0) {
            return Err(format!("argument {i} is not an address"));
        }
        Ok(Address(w[12..].try_into().expect("20 bytes")))
    }

    /// Argument `i` as a string of at most `max` bytes (the word holds its offset).
    pub(crate) fn string(&self, i: usize, max: usize) -> Result<String, AbiError> {
        String::from_utf8(self.bytes(i, max)?).map_err(|_| format!("argument {i} is not UTF-8"))
    }

    /// Argument `i` as dynamic bytes of at most `max` (the word holds their offset).
    pub(crate) fn bytes(&self, i: usize, max: usize) -> Result<Vec<u8>, AbiError> {
        let offset = usize::try_from(self.u64(i)?).map_err(|_| "offset too large".to_string())?;
        let len_word = self
            .data
            .get(offset..offset.saturating_add(32))
            .ok_or_else(|| format!("argument {i}'s length is missing"))?;
        let len = u64::from_be_bytes(len_word[24..].try_into().expect("8 bytes"));
        if len_word[..24].iter().any(|b| *b != 0) || len > max as u64 {
            return Err(format!("argument {i} is longer than {max} bytes"));
        }
        let start = offset + 32;
        let bytes = self
            .data
            .get(start..start + len as usize)
            .ok_or_else(|| format!("argument {i} is cut short"))?;
        Ok(bytes.to_vec())
    }
}

/// A value to return.
pub(crate) enum Token {
    /// An unsigned integer.
    Uint(U256),
    /// An address.
    Address(Address),
    /// A boolean.
    Bool(bool),
    /// A string (dynamic).
    Str(String),
}

/// ABI-encodes `tokens` as a function's return values (a tuple).
pub(crate) fn encode(tokens: &[Token]) -> Vec<u8> {
    let mut head = Vec::with_capacity(32 * tokens.len());
    let mut tail = Vec::new();
    for t in tokens {
        match t {
            Token::Uint(v) => head.extend_from_slice(&v.to_be_bytes::<32>()),
            Token::Address(a) => {
                head.extend_from_slice(&[0u8; 12]);
                head.extend_from_slice(&a.0);
            }
            Token::Bool(b) => head.extend_from_slice(&U256::from(u8::from(*b)).to_be_bytes::<32>()),
            Token::Str(s) => {
                let offset = 32 * tokens.len() + tail.len();
                head.extend_from_slice(&U256::from(offset).to_be_bytes::<32>());
                tail.extend_from_slice(&U256::from(s.len()).to_be_bytes::<32>());
                tail.extend_from_slice(s.as_bytes());
                tail.resize(tail.len().div_ceil(32) * 32, 0);
            }
        }
    }
    head.extend_from_slice(&tail);
    head
}

/// A revert with Solidity's `Error(string)`, which `try`/`catch` and every client decode.
pub(crate) fn error_string(message: &str) -> Vec<u8> {
    let mut out = selector("Error(string)").to_vec();
    out.extend_from_slice(&encode(&[Token::Str(message.to_owned())]));
    out
}

/// The message inside an `Error(string)` revert, if that is what `data` is.
pub fn decode_error_string(data: &[u8]) -> Option<String> {
    if data.len() < 4 || data[..4] != selector("Error(string)") {
        return None;
    }
    Args::new(&data[4..]).string(0, data.len()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_the_ones_solidity_computes() {
        assert_eq!(
            selector("transfer(address,uint256)"),
            [0xa9, 0x05, 0x9c, 0xbb]
        );
        assert_eq!(selector("Error(string)"), [0x08, 0xc3, 0x79, 0xa0]);
    }

    #[test]
    fn an_error_string_round_trips() {
        let data = error_string("not_allowlisted: 0xab is not on the allowlist");
        assert_eq!(
            decode_error_string(&data).as_deref(),
            Some("not_allowlisted: 0xab is not on the allowlist")
        );
    }

    #[test]
    fn short_or_lying_arguments_are_refused_not_panicked_on() {
        let mut data = vec![0u8; 64];
        data[31] = 0x20;
        data[63] = 0xff;
        assert!(Args::new(&data).string(0, 1000).is_err());
        assert!(Args::new(&[1, 2, 3]).u64(0).is_err());
        let mut big = vec![0u8; 32];
        big[0] = 1;
        assert!(Args::new(&big).u64(0).is_err());
        assert!(Args::new(&big).address(0).is_err());
        let mut huge_offset = vec![0xffu8; 32];
        huge_offset[..24].fill(0);
        assert!(Args::new(&huge_offset).string(0, 10).is_err());
    }
}

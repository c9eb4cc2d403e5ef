//! The canonical binary encoding.
//!
//! Integers are fixed-width big-endian, lengths are `u32` big-endian, and every variable-length
//! field is read against an explicit maximum. A value has exactly one encoding, so hashes of
//! encodings are well defined. Decoding never panics: every read is bounds checked and every
//! failure is a [`CodecError`].

pub use machina_codec_derive::{Decode, Encode};
use thiserror::Error;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The input ended before the value did.
    #[error("input ended early: needed {needed} more bytes at offset {offset}")]
    UnexpectedEnd {
        /// Offset where the read started.
        offset: usize,
        /// Bytes that were missing.
        needed: usize,
    },
    /// A length prefix exceeded its limit.
    #[error("{what} has length {len}, limit is {max}")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The whole input is larger than the caller allows.
    #[error("input is {len} bytes, limit is {max}")]
    Oversize {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An enum tag or version byte is unknown.
    #[error("unknown {what} tag {tag}")]
    BadTag {
        /// Which enum.
        what: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// Bytes remained after the value.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// A string was not UTF-8.
    #[error("string is not valid UTF-8")]
    BadUtf8,
    /// A value broke a rule of its type (for example keys out of order).
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

/// Result alias for decoding.
pub type Result<T> = std::result::Result<T, CodecError>;

/// A type with a canonical binary encoding.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// The encoding of `self` as a new vector.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }
}

/// A type that can be decoded from untrusted bytes.
pub trait Decode: Sized {
    /// Reads one value from `r`.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self>;

    /// Decodes exactly one value from `bytes`, which must not exceed `max_len` bytes.
    fn decode_exact(bytes: &[u8], max_len: usize) -> Result<Self> {
        if bytes.len() > max_len {
            return Err(CodecError::Oversize {
                len: bytes.len(),
                max: max_len,
            });
        }
        let mut r = Reader::new(bytes);
        let v = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

/// A bounds-checked cursor over untrusted bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Current offset from the start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(CodecError::TrailingBytes(n)),
        }
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(CodecError::UnexpectedEnd {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// The next byte, without reading it (to route an enum by its tag).
    pub fn peek_u8(&self) -> Result<u8> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(CodecError::UnexpectedEnd {
                offset: self.pos,
                needed: 1,
            })
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `u128`.
    pub fn u128(&mut self) -> Result<u128> {
        Ok(u128::from_be_bytes(self.array()?))
    }

    /// Reads a boolean encoded as 0 or 1.
    pub fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(CodecError::BadTag { what: "bool", tag }),
        }
    }

    /// Reads a length prefix and checks it against `max`.
    pub fn len(&mut self, what: &'static str, max: usize) -> Result<usize> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(CodecError::TooLong { what, len, max });
        }
        Ok(len)
    }

    /// Reads length-prefixed bytes of at most `max` bytes.
    pub fn var_bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8]> {
        let n = self.len(what, max)?;
        self.bytes(n)
    }

    /// Reads a length-prefixed UTF-8 string of at most `max` bytes.
    pub fn string(&mut self, what: &'static str, max: usize) -> Result<String> {
        let b = self.var_bytes(what, max)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| CodecError::BadUtf8)
    }

    /// Reads an optional string of at most `max` bytes (see [`put_opt_str`]).
    pub fn opt_string(&mut self, what: &'static str, max: usize) -> Result<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.string(what, max)?)),
            tag => Err(CodecError::BadTag { what, tag }),
        }
    }

    /// Reads a length-prefixed list of at most `max` items.
    pub fn vec<T: Decode>(&mut self, what: &'static str, max: usize) -> Result<Vec<T>> {
        let n = self.len(what, max)?;
        // Each item takes at least one byte, so a lying prefix cannot make us allocate more
        // than the input could hold.
        let mut v = Vec::with_capacity(n.min(self.remaining()));
        for _ in 0..n {
            v.push(T::decode_from(self)?);
        }
        Ok(v)
    }
}

/// Appends a `u32` length prefix.
pub fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("encoded lengths are bounded far below u32::MAX");
    out.extend_from_slice(&len.to_be_bytes());
}

/// Appends length-prefixed bytes.
pub fn put_var_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// Appends a length-prefixed list.
pub fn put_vec<T: Encode>(out: &mut Vec<u8>, items: &[T]) {
    put_len(out, items.len());
    for i in items {
        i.encode_to(out);
    }
}

macro_rules! int_codec {
    ($($t:ty => $m:ident),*) => {$(
        impl Encode for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
        }
        impl Decode for $t {
            fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
                r.$m()
            }
        }
    )*};
}
int_codec!(u8 => u8, u16 => u16, u32 => u32, u64 => u64, u128 => u128);

impl Encode for i64 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Decode for i64 {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        r.array().map(i64::from_be_bytes)
    }
}

/// An enum whose variants are told apart by an explicit one-byte tag: module actions, kinds.
/// `#[derive(Encode)]` implements it for every enum.
pub trait Tagged {
    /// Every variant's tag and snake_case name, in declaration order.
    const TAGS: &'static [(u8, &'static str)];
    /// This value's tag.
    fn tag(&self) -> u8;
    /// This value's name, as JSON and session grants spell it.
    fn name(&self) -> &'static str;
}

impl<T: Encode> Encode for Option<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode_to(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        match r.u8()? {
            0 => Ok(None),
            1 => Ok(Some(T::decode_from(r)?)),
            tag => Err(CodecError::BadTag {
                what: "option",
                tag,
            }),
        }
    }
}

/// Appends a length-prefixed UTF-8 string.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_var_bytes(out, s.as_bytes());
}

/// Appends an optional string: a 0 tag, or a 1 tag and the string.
pub fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

impl Encode for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        r.bool()
    }
}

impl Encode for crate::Hash {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for crate::Hash {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        r.array().map(crate::Hash)
    }
}

impl Encode for crate::Address {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for crate::Address {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        r.array().map(crate::Address)
    }
}

impl Encode for crate::Amount {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.0.encode_to(out);
    }
}

impl Decode for crate::Amount {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        r.u128().map(crate::Amount)
    }
}

impl Encode for crate::PublicKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for crate::PublicKey {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        r.array().map(crate::PublicKey)
    }
}

impl Encode for crate::Signature {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Decode for crate::Signature {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        r.array().map(crate::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_past_the_end_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert!(matches!(r.u64(), Err(CodecError::UnexpectedEnd { .. })));
    }

    #[test]
    fn oversize_input_is_rejected_before_decoding() {
        let bytes = vec![0u8; 9];
        assert_eq!(
            u64::decode_exact(&bytes, 8),
            Err(CodecError::Oversize { len: 9, max: 8 })
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        assert_eq!(
            u8::decode_exact(&[1, 2], 16),
            Err(CodecError::TrailingBytes(1))
        );
    }

    #[test]
    fn a_length_above_its_limit_is_rejected() {
        let mut out = Vec::new();
        put_len(&mut out, 10);
        let mut r = Reader::new(&out);
        assert!(matches!(
            r.len("list", 9),
            Err(CodecError::TooLong { len: 10, .. })
        ));
    }
}

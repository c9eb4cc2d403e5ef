//! Hex helpers shared by the byte types, and a serde adapter for byte strings.

/// Parses `0x`-prefixed or bare hex into exactly `N` bytes.
pub(crate) fn parse_fixed<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Serde adapter for fixed-size byte arrays as `0x` hex strings.
macro_rules! hex_bytes_serde {
    ($ty:ident, $n:expr, $what:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&format_args!("0x{}", hex::encode(self.0)))
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $crate::hex_serde::parse_fixed::<$n>(&s)
                    .map($ty)
                    .ok_or_else(|| serde::de::Error::custom(concat!("expected ", $what)))
            }
        }
    };
}
pub(crate) use hex_bytes_serde;

/// Serde adapter for variable-length bytes as `0x` hex strings:
/// `#[serde(with = "machina_primitives::hex_serde::bytes")]`.
pub mod bytes {
    /// Writes `0x` and the bytes in hex.
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("0x{}", hex::encode(b)))
    }

    /// Reads `0x`-prefixed or bare hex.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        hex::decode(s.strip_prefix("0x").unwrap_or(&s))
            .map_err(|_| serde::de::Error::custom("expected hex bytes"))
    }
}

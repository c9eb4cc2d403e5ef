//! The stored form of a receipt: the same content as its canonical encoding, in fewer bytes.
//!
//! The canonical encoding (which the receipts root commits to) uses fixed-width integers, 4-byte
//! lengths and addresses as 42-character hex text, and carries the transaction's id. The store
//! keeps the id beside the record already, so here integers are LEB128 varints, lengths are
//! varints and text that is `0x` followed by lowercase hex is stored as its bytes. A transfer's
//! receipt goes from 314 bytes to 131. Decoding gives back exactly the receipt that
//! was encoded (the round trip is property-tested) and never panics on damaged input.

use machina_primitives::codec::{CodecError, Reader};
use machina_primitives::limits::{MAX_EVENTS_PER_RECEIPT, MAX_EVENT_ATTRS, MAX_STRING_BYTES};
use machina_primitives::{Amount, AttrValue, Event, Hash, Receipt, TxFailure};

/// Longest hex text stored as bytes (a hash or a key is 32 bytes).
const MAX_HEX_BYTES: usize = 64;

const TEXT: u8 = 0;
const INT: u8 = 1;
const AMOUNT: u8 = 2;
const SIGNED: u8 = 3;
const HEX: u8 = 4;

/// Appends `v` as a LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a LEB128 varint of at most `bits` bits; overlong or oversized encodings are refused,
/// so every value has exactly one encoding.
pub(crate) fn varint(r: &mut Reader<'_>, bits: u32) -> Result<u128, CodecError> {
    let bad = |tag| CodecError::BadTag {
        what: "stored varint",
        tag,
    };
    let (mut v, mut shift) = (0u128, 0u32);
    loop {
        let byte = r.u8()?;
        let part = u128::from(byte & 0x7f);
        // Too many bytes, a redundant final zero, or bits beyond `bits`.
        if shift >= bits || (shift > 0 && byte == 0) || (part << shift) >> shift != part {
            return Err(bad(byte));
        }
        v |= part << shift;
        if bits < 128 && v >> bits != 0 {
            return Err(bad(byte));
        }
        if byte & 0x80 == 0 {
            return Ok(v);
        }
        shift += 7;
    }
}

/// Reads a varint length no larger than `max`.
pub(crate) fn len(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<usize, CodecError> {
    let n = varint(r, 64)?;
    match usize::try_from(n) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(CodecError::TooLong {
            what,
            len: usize::try_from(n).unwrap_or(usize::MAX),
            max,
        }),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u128);
    out.extend_from_slice(s.as_bytes());
}

fn string(r: &mut Reader<'_>, what: &'static str) -> Result<String, CodecError> {
    let n = len(r, what, MAX_STRING_BYTES)?;
    String::from_utf8(r.bytes(n)?.to_vec()).map_err(|_| CodecError::BadUtf8)
}

/// The bytes of `0x`-prefixed lowercase hex text, if that is what `s` is exactly.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let digits = s.strip_prefix("0x")?;
    let lower = digits
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !lower || digits.is_empty() || digits.len() > 2 * MAX_HEX_BYTES {
        return None;
    }
    hex::decode(digits).ok()
}

fn put_attr(out: &mut Vec<u8>, v: &AttrValue) {
    match v {
        AttrValue::Text(t) => match hex_bytes(t) {
            Some(b) => {
                out.push(HEX);
                out.push(b.len() as u8);
                out.extend_from_slice(&b);
            }
            None => {
                out.push(TEXT);
                put_str(out, t);
            }
        },
        AttrValue::Int(i) => {
            out.push(INT);
            put_varint(out, u128::from(*i));
        }
        AttrValue::Amount(a) => {
            out.push(AMOUNT);
            put_varint(out, a.0);
        }
        AttrValue::Signed(s) => {
            out.push(SIGNED);
            // Zigzag: small magnitudes of either sign stay short.
            put_varint(out, u128::from(((*s << 1) ^ (*s >> 63)) as u64));
        }
    }
}

fn attr(r: &mut Reader<'_>) -> Result<AttrValue, CodecError> {
    Ok(match r.u8()? {
        TEXT => AttrValue::Text(string(r, "stored text")?),
        INT => AttrValue::Int(varint(r, 64)? as u64),
        AMOUNT => AttrValue::Amount(Amount(varint(r, 128)?)),
        SIGNED => {
            let z = varint(r, 64)? as u64;
            AttrValue::Signed(((z >> 1) as i64) ^ -((z & 1) as i64))
        }
        HEX => {
            let n = usize::from(r.u8()?);
            if n == 0 || n > MAX_HEX_BYTES {
                return Err(CodecError::BadTag {
                    what: "stored hex length",
                    tag: n as u8,
                });
            }
            AttrValue::Text(format!("0x{}", hex::encode(r.bytes(n)?)))
        }
        tag => {
            return Err(CodecError::BadTag {
                what: "stored attribute",
                tag,
            })
        }
    })
}

/// Appends the stored form of `r` (without its transaction id).
pub(crate) fn put_receipt(out: &mut Vec<u8>, r: &Receipt) {
    match &r.error {
        None => out.push(0),
        Some(f) => {
            out.push(1);
            put_str(out, &f.code);
            put_str(out, &f.message);
        }
    }
    put_varint(out, r.fee_charged.0);
    put_varint(out, r.events.len() as u128);
    for e in &r.events {
        put_str(out, &e.module);
        put_str(out, &e.kind);
        put_varint(out, e.attrs.len() as u128);
        for (k, v) in &e.attrs {
            put_str(out, k);
            put_attr(out, v);
        }
    }
}

/// Reads a receipt written by [`put_receipt`] for the transaction `tx_hash`.
pub(crate) fn receipt(r: &mut Reader<'_>, tx_hash: Hash) -> Result<Receipt, CodecError> {
    let error = match r.u8()? {
        0 => None,
        1 => Some(TxFailure {
            code: string(r, "error code")?,
            message: string(r, "error message")?,
        }),
        tag => {
            return Err(CodecError::BadTag {
                what: "stored receipt status",
                tag,
            })
        }
    };
    let fee_charged = Amount(varint(r, 128)?);
    let n = len(r, "stored events", MAX_EVENTS_PER_RECEIPT)?;
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        let module = string(r, "event module")?;
        let kind = string(r, "event kind")?;
        let mut attrs = std::collections::BTreeMap::new();
        for _ in 0..len(r, "event attributes", MAX_EVENT_ATTRS)? {
            let k = string(r, "attribute key")?;
            let v = attr(r)?;
            attrs.insert(k, v);
        }
        events.push(Event {
            module,
            kind,
            attrs,
        });
    }
    Ok(Receipt {
        tx_hash,
        success: error.is_none(),
        error,
        fee_charged,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_primitives::codec::Encode;
    use machina_primitives::Address;
    use proptest::prelude::*;

    fn attr_value() -> impl Strategy<Value = AttrValue> {
        prop_oneof![
            any::<String>().prop_map(AttrValue::Text),
            any::<[u8; 20]>().prop_map(|a| AttrValue::Text(Address(a).to_string())),
            proptest::collection::vec(any::<u8>(), 0..70)
                .prop_map(|b| AttrValue::Text(format!("0x{}", hex::encode(b)))),
            "0x[0-9a-fA-F]{0,8}".prop_map(AttrValue::Text),
            any::<u64>().prop_map(AttrValue::Int),
            any::<u128>().prop_map(|a| AttrValue::Amount(Amount(a))),
            any::<i64>().prop_map(AttrValue::Signed),
        ]
    }

    fn a_receipt() -> impl Strategy<Value = Receipt> {
        let event = (
            "[a-z]{0,8}",
            "[a-z_]{0,12}",
            proptest::collection::btree_map("[a-z_]{1,10}", attr_value(), 0..6),
        )
            .prop_map(|(module, kind, attrs)| Event {
                module,
                kind,
                attrs,
            });
        (
            any::<[u8; 32]>(),
            proptest::option::of(("[a-z_]{1,20}", any::<String>())),
            any::<u128>(),
            proptest::collection::vec(event, 0..5),
        )
            .prop_map(|(h, err, fee, events)| Receipt {
                tx_hash: Hash(h),
                success: err.is_none(),
                error: err.map(|(code, message)| TxFailure { code, message }),
                fee_charged: Amount(fee),
                events,
            })
    }

    proptest! {
        #[test]
        fn a_stored_receipt_reads_back_as_the_same_receipt(r in a_receipt()) {
            let mut out = Vec::new();
            put_receipt(&mut out, &r);
            let mut rd = Reader::new(&out);
            prop_assert_eq!(receipt(&mut rd, r.tx_hash), Ok(r.clone()));
            prop_assert_eq!(rd.finish(), Ok(()));
            // Never longer than the canonical form (which also carries the 32-byte id).
            prop_assert!(out.len() <= r.encode().len());
        }

        #[test]
        fn damaged_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = receipt(&mut Reader::new(&bytes), Hash::ZERO);
        }

        #[test]
        fn varints_round_trip_and_have_one_encoding(v in any::<u128>()) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            prop_assert_eq!(varint(&mut Reader::new(&out), 128), Ok(v));
            // The same value with a redundant zero continuation byte is refused.
            let mut padded = out.clone();
            *padded.last_mut().expect("one byte at least") |= 0x80;
            padded.push(0);
            prop_assert!(varint(&mut Reader::new(&padded), 128).is_err());
        }
    }

    #[test]
    fn a_transfer_receipt_takes_less_than_half_its_canonical_size() {
        let (from, to) = (Address([7; 20]), Address([9; 20]));
        let r = Receipt {
            tx_hash: Hash([1; 32]),
            success: true,
            error: None,
            fee_charged: Amount(1_000),
            events: vec![
                Event::new(
                    "bank",
                    "fee",
                    &[("payer", (&from).into()), ("amount", Amount(1_000).into())],
                ),
                Event::new(
                    "bank",
                    "transfer",
                    &[
                        ("from", (&from).into()),
                        ("to", (&to).into()),
                        ("amount", Amount(5_000_000).into()),
                    ],
                ),
            ],
        };
        let mut out = Vec::new();
        put_receipt(&mut out, &r);
        assert!(
            out.len() * 2 < r.encode().len(),
            "{} vs {}",
            out.len(),
            r.encode().len()
        );
    }
}

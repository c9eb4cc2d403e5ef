//! Receipts: what happened to each transaction in a block.

use crate::codec::{put_len, put_str, put_vec, Decode, Encode, Reader, Result};

use crate::limits::{MAX_EVENTS_PER_RECEIPT, MAX_EVENT_ATTRS, MAX_STRING_BYTES};
use crate::{Amount, CodecError, Hash};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value of an event attribute, typed so that JSON shows it as the API promises: amounts
/// of micro-units as decimal strings, every other integer as a number.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[codec(what = "attribute value")]
pub enum AttrValue {
    /// Text: names, codes, addresses and keys in hex.
    #[codec(tag = 0)]
    Text(#[codec(max = MAX_STRING_BYTES)] String),
    /// An unsigned integer: ids, counts, heights, times, energy.
    #[codec(tag = 1)]
    Int(u64),
    /// Micro-units.
    #[codec(tag = 2)]
    Amount(Amount),
    /// A signed integer (feed values).
    #[codec(tag = 3)]
    Signed(i64),
}

impl AttrValue {
    /// The value as an unsigned integer, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            AttrValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// Parses the value's text form, e.g. an address.
    pub fn parse<T: std::str::FromStr>(&self) -> std::result::Result<T, T::Err> {
        self.to_string().parse()
    }
}

impl std::fmt::Display for AttrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Text(s) => f.write_str(s),
            AttrValue::Int(v) => write!(f, "{v}"),
            AttrValue::Amount(a) => write!(f, "{a}"),
            AttrValue::Signed(v) => write!(f, "{v}"),
        }
    }
}

impl PartialEq<&str> for AttrValue {
    fn eq(&self, other: &&str) -> bool {
        match self {
            AttrValue::Text(t) => t == other,
            AttrValue::Int(v) => other.parse() == Ok(*v),
            AttrValue::Amount(a) => other.parse() == Ok(a.0),
            AttrValue::Signed(v) => other.parse() == Ok(*v),
        }
    }
}

macro_rules! attr_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl From<$t> for AttrValue {
            fn from($v: $t) -> Self {
                $e
            }
        }
    )*};
}

attr_from! {
    u64 => |v| AttrValue::Int(v),
    u32 => |v| AttrValue::Int(v.into()),
    u16 => |v| AttrValue::Int(v.into()),
    u8 => |v| AttrValue::Int(v.into()),
    usize => |v| AttrValue::Int(v as u64),
    i64 => |v| AttrValue::Signed(v),
    Amount => |v| AttrValue::Amount(v),
    String => |v| AttrValue::Text(v),
    &str => |v| AttrValue::Text(v.to_owned()),
    &String => |v| AttrValue::Text(v.clone()),
    crate::Address => |v| AttrValue::Text(v.to_string()),
    crate::PublicKey => |v| AttrValue::Text(format!("0x{}", hex::encode(v.0))),
    Hash => |v| AttrValue::Text(v.to_string()),
    &crate::Address => |v| AttrValue::Text(v.to_string()),
    &crate::PublicKey => |v| AttrValue::from(*v),
    &u64 => |v| AttrValue::Int(*v),
    &Amount => |v| AttrValue::Amount(*v),
}

/// JSON: text as a string, integers as numbers, amounts as decimal strings.
impl Serialize for AttrValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            AttrValue::Text(t) => s.serialize_str(t),
            AttrValue::Int(v) => s.serialize_u64(*v),
            AttrValue::Amount(a) => a.serialize(s),
            AttrValue::Signed(v) => s.serialize_i64(*v),
        }
    }
}

/// From JSON: numbers are integers; a string of decimal digits is an amount, any other string
/// is text (events are written by modules, which never put digits-only text in an event).
impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(t) => Ok(match t.parse::<u128>() {
                Ok(a) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                    AttrValue::Amount(Amount(a))
                }
                _ => AttrValue::Text(t),
            }),
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(AttrValue::Int)
                .or_else(|| n.as_i64().map(AttrValue::Signed))
                .ok_or_else(|| D::Error::custom("an attribute number is an integer")),
            other => Err(D::Error::custom(format!("not an attribute value: {other}"))),
        }
    }
}

/// Something a module reports, such as a transfer or a fee payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The module that emitted it, e.g. `bank`.
    pub module: String,
    /// What happened, e.g. `transfer`.
    pub kind: String,
    /// Details, in key order so that the encoding is canonical.
    pub attrs: BTreeMap<String, AttrValue>,
}

impl Event {
    /// An event with the given attributes.
    pub fn new(module: &str, kind: &str, attrs: &[(&str, AttrValue)]) -> Event {
        Event {
            module: module.to_owned(),
            kind: kind.to_owned(),
            attrs: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }

    /// The accounts the event names: every text attribute that is a 20-byte hex address
    /// (senders, receivers, owners, holders). History indexes and event filters use this.
    pub fn named_accounts(&self) -> impl Iterator<Item = crate::Address> + '_ {
        self.attrs.values().filter_map(|v| match v {
            AttrValue::Text(t) if t.len() == 42 => crate::Address::from_hex(t),
            _ => None,
        })
    }

    /// The machine the event is about, if it names one (`machine_id`).
    pub fn machine_id(&self) -> Option<u64> {
        self.attrs.get("machine_id").and_then(AttrValue::as_u64)
    }
}

/// Why a transaction failed: a stable code that is part of the protocol, and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxFailure {
    /// Stable machine-readable code, e.g. `insufficient_funds`.
    pub code: String,
    /// A sentence for people, e.g. `account has 120 micro, needs 1000`.
    pub message: String,
}

/// The outcome of one transaction in a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction's id.
    pub tx_hash: Hash,
    /// True when every action succeeded.
    pub success: bool,
    /// Why it failed, when it did. Its state changes were undone; the fee was still charged.
    pub error: Option<TxFailure>,
    /// Micro-units charged as fee.
    pub fee_charged: Amount,
    /// Events of the fee payment and, on success, of the actions.
    pub events: Vec<Event>,
}

impl Encode for Event {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_str(out, &self.module);
        put_str(out, &self.kind);
        put_len(out, self.attrs.len());
        for (k, v) in &self.attrs {
            put_str(out, k);
            v.encode_to(out);
        }
    }
}

impl Decode for Event {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let module = r.string("event module", MAX_STRING_BYTES)?;
        let kind = r.string("event kind", MAX_STRING_BYTES)?;
        let n = r.len("event attributes", MAX_EVENT_ATTRS)?;
        let mut attrs = BTreeMap::new();
        let mut last: Option<String> = None;
        for _ in 0..n {
            let k = r.string("attribute key", MAX_STRING_BYTES)?;
            let v = AttrValue::decode_from(r)?;
            if last.as_ref().is_some_and(|l| *l >= k) {
                return Err(CodecError::Invalid("event attributes out of order"));
            }
            last = Some(k.clone());
            attrs.insert(k, v);
        }
        Ok(Event {
            module,
            kind,
            attrs,
        })
    }
}

impl Encode for Receipt {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.tx_hash.encode_to(out);
        match &self.error {
            None => out.push(0),
            Some(f) => {
                out.push(1);
                put_str(out, &f.code);
                put_str(out, &f.message);
            }
        }
        self.fee_charged.encode_to(out);
        put_vec(out, &self.events);
    }
}

impl Decode for Receipt {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let tx_hash = Hash::decode_from(r)?;
        let error = match r.u8()? {
            0 => None,
            1 => Some(TxFailure {
                code: r.string("error code", MAX_STRING_BYTES)?,
                message: r.string("error message", MAX_STRING_BYTES)?,
            }),
            tag => {
                return Err(CodecError::BadTag {
                    what: "receipt status",
                    tag,
                })
            }
        };
        Ok(Receipt {
            tx_hash,
            success: error.is_none(),
            error,
            fee_charged: Amount::decode_from(r)?,
            events: r.vec("events", MAX_EVENTS_PER_RECEIPT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip() {
        let r = Receipt {
            tx_hash: crate::sha256(&[b"x"]),
            success: false,
            error: Some(TxFailure {
                code: "insufficient_funds".into(),
                message: "account has 1 micro, needs 2".into(),
            }),
            fee_charged: Amount(10),
            events: vec![Event::new("bank", "fee", &[("amount", Amount(10).into())])],
        };
        assert_eq!(Receipt::decode_exact(&r.encode(), 1 << 20), Ok(r));
    }
}

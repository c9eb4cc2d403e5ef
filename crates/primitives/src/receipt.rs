//! Receipts: what happened to each transaction in a block.

use crate::codec::{put_len, put_str, put_vec, Decode, Encode, Reader, Result};
use crate::limits::{MAX_EVENTS_PER_RECEIPT, MAX_EVENT_ATTRS, MAX_STRING_BYTES};
use crate::{Amount, CodecError, Hash};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Something a module reports, such as a transfer or a fee payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The module that emitted it, e.g. `bank`.
    pub module: String,
    /// What happened, e.g. `transfer`.
    pub kind: String,
    /// Details, in key order so that the encoding is canonical.
    pub attrs: BTreeMap<String, String>,
}

impl Event {
    /// An event with the given attributes.
    pub fn new(module: &str, kind: &str, attrs: &[(&str, String)]) -> Event {
        Event {
            module: module.to_owned(),
            kind: kind.to_owned(),
            attrs: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
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
            put_str(out, v);
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
            let v = r.string("attribute value", MAX_STRING_BYTES)?;
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
            events: vec![Event::new("bank", "fee", &[("amount", "10".into())])],
        };
        assert_eq!(Receipt::decode_exact(&r.encode(), 1 << 20), Ok(r));
    }
}

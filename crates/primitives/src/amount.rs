//! Token amounts: `u128` micro-units with checked arithmetic only.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of tokens in micro-units (1 token = 1,000,000 micro).
///
/// There is deliberately no `Add`/`Sub` impl: every operation on value is checked and the
/// caller decides what an overflow or underflow means.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub u128);

impl Amount {
    /// Zero micro-units.
    pub const ZERO: Amount = Amount(0);

    /// `self + rhs`, or `None` on overflow.
    pub fn checked_add(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_add(rhs.0).map(Amount)
    }

    /// `self - rhs`, or `None` if `rhs > self`.
    pub fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_sub(rhs.0).map(Amount)
    }

    /// The raw number of micro-units.
    pub fn micro(self) -> u128 {
        self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} micro", self.0)
    }
}

impl std::str::FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<u128>().map(Amount).map_err(|_| {
            let quoted = crate::limits::quote_prefix(s);
            match s.split_once('.').map(|(w, f)| (w.parse::<u128>(), f)) {
                // Say how to write a fraction of a token, e.g. 1.5 tokens = 1500000 micro.
                Some((Ok(whole), frac)) if frac.len() <= 6 && frac.bytes().all(|b| b.is_ascii_digit()) => {
                    let micro = whole
                        .checked_mul(1_000_000)
                        .and_then(|m| m.checked_add(format!("{frac:0<6}").parse::<u128>().ok()?));
                    match micro {
                        Some(m) => format!(
                            "{quoted} is not an integer: amounts are integer micro-units (1 token = 1000000 micro); {s} tokens is {m}"
                        ),
                        None => format!("{quoted} is too large an amount"),
                    }
                }
                _ => format!(
                    "{quoted} is not an amount: write an integer number of micro-units (1 token = 1000000 micro)"
                ),
            }
        })
    }
}

/// JSON carries amounts as decimal strings: a `u128` does not fit a JSON number safely.
impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fraction_of_a_token_is_refused_with_the_micro_amount_to_write() {
        let e = "1.5".parse::<Amount>().expect_err("not an integer");
        assert!(e.contains("1 token = 1000000 micro"), "{e}");
        assert!(e.contains("1.5 tokens is 1500000"), "{e}");
        assert!("-3".parse::<Amount>().is_err());
        assert_eq!("2500000".parse::<Amount>(), Ok(Amount(2_500_000)));
    }

    #[test]
    fn subtraction_below_zero_is_none() {
        assert_eq!(Amount(5).checked_sub(Amount(6)), None);
        assert_eq!(Amount(6).checked_sub(Amount(5)), Some(Amount(1)));
    }

    #[test]
    fn addition_overflow_is_none() {
        assert_eq!(Amount(u128::MAX).checked_add(Amount(1)), None);
    }

    #[test]
    fn json_form_is_a_decimal_string() {
        let a = Amount(u128::MAX);
        let j = serde_json::to_string(&a).expect("serialize");
        assert_eq!(j, format!("\"{}\"", u128::MAX));
        assert_eq!(serde_json::from_str::<Amount>(&j).expect("parse"), a);
        assert!(serde_json::from_str::<Amount>("\"-1\"").is_err());
    }
}

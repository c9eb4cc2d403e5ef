//! Amounts on the command line: integer micro-units, and a sentence that says how to write a
//! decimal number of tokens when someone types one.

use machina_primitives::Amount;

/// Micro-units in one token.
const MICRO_PER_TOKEN: u128 = 1_000_000;

/// Decimals of a token that micro-units can carry.
const TOKEN_DECIMALS: usize = 6;

/// Parses `--amount`: a decimal integer of micro-units. `1.5` is refused with the integer it
/// probably meant (`1500000`).
pub fn parse_amount(s: &str) -> Result<Amount, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u128>()
            .map(Amount)
            .map_err(|_| format!("{t} is more than the largest amount, {}", u128::MAX));
    }
    let unit = format!("amounts are integer micro-units (1 token = {MICRO_PER_TOKEN} micro)");
    if t.starts_with('-') {
        return Err(format!("an amount cannot be negative; {unit}"));
    }
    let Some((whole, frac)) = t.split_once('.') else {
        return Err(format!(
            "not an amount: `{t}`; {unit}, e.g. 1500000 for 1.5 tokens"
        ));
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) || (whole.is_empty() && frac.is_empty()) {
        return Err(format!(
            "not an amount: `{t}`; {unit}, e.g. 1500000 for 1.5 tokens"
        ));
    }
    if frac.len() > TOKEN_DECIMALS {
        return Err(format!(
            "{unit}, so a token has {TOKEN_DECIMALS} decimals at most; {t} tokens is finer \
             than one micro-unit"
        ));
    }
    let micro = whole
        .parse::<u128>()
        .ok()
        .or(whole.is_empty().then_some(0))
        .and_then(|w| w.checked_mul(MICRO_PER_TOKEN))
        .zip(format!("{frac:0<TOKEN_DECIMALS$}").parse::<u128>().ok())
        .and_then(|(w, f)| w.checked_add(f));
    match micro {
        Some(m) => Err(format!("{unit}: for {t} tokens write {m}")),
        None => Err(format!("{t} tokens is more than the largest amount")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_is_micro_units() {
        assert_eq!(parse_amount("1500000"), Ok(Amount(1_500_000)));
        assert_eq!(parse_amount("0"), Ok(Amount(0)));
    }

    #[test]
    fn a_decimal_is_refused_with_the_integer_it_means() {
        let e = parse_amount("1.5").expect_err("decimal");
        assert!(e.contains("integer micro-units"), "{e}");
        assert!(e.contains("for 1.5 tokens write 1500000"), "{e}");
        assert!(parse_amount(".25")
            .expect_err("decimal")
            .ends_with("write 250000"));
        assert!(parse_amount("2.")
            .expect_err("decimal")
            .ends_with("write 2000000"));
        let e = parse_amount("1.0000005").expect_err("too fine");
        assert!(e.contains("finer than one micro-unit"), "{e}");
    }

    #[test]
    fn words_negatives_and_overflows_are_refused_with_the_unit() {
        for s in ["abc", "-5", "1e6", ".", "1.2.3", ""] {
            let e = parse_amount(s).expect_err(s);
            assert!(e.contains("micro"), "{s}: {e}");
        }
        assert!(parse_amount(&format!("{}0", u128::MAX)).is_err());
        assert!(parse_amount(&format!("{}.5", u128::MAX)).is_err());
    }
}

//! Exact pro-rata arithmetic on micro-units: `a * b / c` without overflow, and splitting an
//! amount across parts so that the shares add up to it to the micro.
//!
//! Slashes, revenue splits and fee shares all divide value by weight. Rounding each share down
//! leaves a remainder of a few micro-units; [`split`] hands it out one micro at a time to the
//! parts whose exact share was rounded down the most (ties to the earlier part), so nothing is
//! lost or created and the result depends only on the inputs' order.

/// `floor(a * b / c)` and the remainder, computed in 256 bits; `None` if `c` is zero or the
/// quotient does not fit in 128 bits.
pub fn mul_div(a: u128, b: u128, c: u128) -> Option<(u128, u128)> {
    if c == 0 {
        return None;
    }
    if let Some(p) = a.checked_mul(b) {
        return Some((p / c, p % c));
    }
    let (hi, lo) = wide_mul(a, b);
    if hi >= c {
        return None;
    }
    // Long division of the 256-bit (hi, lo) by c, one bit at a time; hi < c keeps the
    // running remainder below c, so the quotient fits in 128 bits.
    let (mut rem, mut q) = (hi, 0u128);
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            q |= 1;
        }
    }
    Some((q, rem))
}

/// The 256-bit product of two `u128`s as (high, low) halves.
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 64) + (lh & MASK) + (hl & MASK);
    let lo = (ll & MASK) | (mid << 64);
    let hi = hh + (lh >> 64) + (hl >> 64) + (mid >> 64);
    (hi, lo)
}

/// Splits `take` across `parts` in proportion to each part, exactly: the shares add up to
/// `take`, no share exceeds its part, and each is within one micro of its exact pro-rata value.
/// `None` if `take` exceeds the parts' sum (or the sum overflows).
pub fn split(parts: &[u128], take: u128) -> Option<Vec<u128>> {
    let total = parts.iter().try_fold(0u128, |s, p| s.checked_add(*p))?;
    if take > total {
        return None;
    }
    if take == 0 {
        return Some(vec![0; parts.len()]);
    }
    let mut shares = Vec::with_capacity(parts.len());
    let mut rems = Vec::with_capacity(parts.len());
    let mut given = 0u128;
    for (i, p) in parts.iter().enumerate() {
        // take <= total, so p * take / total <= p: always fits.
        let (q, r) = mul_div(*p, take, total)?;
        shares.push(q);
        rems.push((r, i));
        given += q;
    }
    // The rounding left `take - given < parts.len()` micro-units: one each to the largest
    // remainders, earlier parts first on ties.
    rems.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    let left = usize::try_from(take - given).expect("fewer than parts.len()");
    for (_, i) in rems.into_iter().take(left) {
        shares[i] += 1;
    }
    Some(shares)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mul_div_matches_small_products_and_handles_wide_ones() {
        assert_eq!(mul_div(7, 3, 2), Some((10, 1)));
        assert_eq!(mul_div(1, 1, 0), None);
        let big = u128::MAX;
        assert_eq!(mul_div(big, big, big), Some((big, 0)));
        assert_eq!(mul_div(big, 2, 4), Some((big / 2, 2)));
        assert_eq!(mul_div(big, big, 1), None);
    }

    #[test]
    fn a_split_gives_the_rounding_to_the_largest_remainders() {
        assert_eq!(split(&[1, 1, 1], 2), Some(vec![1, 1, 0]));
        assert_eq!(split(&[10, 20, 30], 6), Some(vec![1, 2, 3]));
        assert_eq!(split(&[5], 6), None);
        assert_eq!(split(&[], 0), Some(vec![]));
    }

    proptest! {
        /// Wide division agrees with the exact answer where the product fits a u128 after
        /// scaling the operands down, and the remainder is below the divisor.
        #[test]
        fn mul_div_is_exact(a in any::<u128>(), b in any::<u64>(), c in 1u128..) {
            let b = u128::from(b);
            if let Some((q, r)) = mul_div(a, b, c) {
                prop_assert!(r < c);
                // q * c + r == a * b, checked in 256 bits.
                let (qh, ql) = wide_mul(q, c);
                let (sum_lo, carry) = ql.overflowing_add(r);
                prop_assert_eq!((qh + u128::from(carry), sum_lo), wide_mul(a, b));
            }
        }

        /// Shares add up to the amount taken, never exceed their part, and stay within one
        /// micro of the exact pro-rata value.
        #[test]
        fn split_is_exact_and_fair(
            parts in proptest::collection::vec(0u128..1_000_000_000_000, 1..40),
            frac in 0u32..=10_000,
        ) {
            let total: u128 = parts.iter().sum();
            let take = total * u128::from(frac) / 10_000;
            let shares = split(&parts, take).unwrap();
            prop_assert_eq!(shares.iter().sum::<u128>(), take);
            for (p, s) in parts.iter().zip(&shares) {
                prop_assert!(s <= p);
                let exact_floor = p * take / total.max(1);
                prop_assert!(*s == exact_floor || *s == exact_floor + 1);
            }
        }
    }
}

//! Amounts across the boundary between Machina's micro-units and the EVM's wei.
//!
//! One micro-unit is 10^12 wei, so one token (10^6 micro) is 10^18 wei and wallets show it with
//! 18 decimals. Balances are kept in micro-units only; the EVM sees them times 10^12. Value
//! that is not a whole number of micro-units is refused wherever it would move (a transaction's
//! value, a call's value inside the EVM), so no value is created or lost at the boundary.
//! Gas prices are whole micro-units per gas: the chain's base fee is one micro per gas, and the
//! part of a tip below a micro is not charged, so `gas_used × effective_gas_price` is exactly
//! what an Ethereum receipt shows and what the sender paid.

use machina_primitives::Amount;

/// Wei in one micro-unit.
pub const WEI_PER_MICRO: u128 = 1_000_000_000_000;

/// The chain's base fee per gas, in wei: one micro-unit. Constant: blocks are not congested
/// the way Ethereum's are, so there is no fee market to follow.
pub const BASE_FEE_WEI: u128 = WEI_PER_MICRO;

/// Wei as the EVM counts it, up to 2^256 − 1.
pub type Wei = revm::primitives::U256;

/// A balance in wei.
pub fn micro_to_wei(amount: Amount) -> Wei {
    Wei::from(amount.0) * Wei::from(WEI_PER_MICRO)
}

/// Wei as micro-units, when it is a whole number of them (and fits a `u128`).
pub fn wei_to_micro(wei: Wei) -> Option<Amount> {
    let per = Wei::from(WEI_PER_MICRO);
    if wei % per != Wei::ZERO {
        return None;
    }
    u128::try_from(wei / per).ok().map(Amount)
}

/// The gas price a transaction pays, in wei per gas: the base fee plus the tip the sender
/// allows, the tip cut down to whole micro-units. `None` when the sender's cap is below the
/// base fee.
pub fn effective_gas_price(max_fee_per_gas: u128, max_priority_fee_per_gas: u128) -> Option<u128> {
    if max_fee_per_gas < BASE_FEE_WEI {
        return None;
    }
    let tip = max_priority_fee_per_gas.min(max_fee_per_gas - BASE_FEE_WEI);
    Some(BASE_FEE_WEI + tip / WEI_PER_MICRO * WEI_PER_MICRO)
}

/// The fee for `gas` at `price_wei` (a whole number of micro-units per gas), in micro-units.
pub fn gas_fee(gas: u64, price_wei: u128) -> Option<Amount> {
    debug_assert_eq!(
        price_wei % WEI_PER_MICRO,
        0,
        "gas prices are whole micro-units"
    );
    (price_wei / WEI_PER_MICRO)
        .checked_mul(u128::from(gas))
        .map(Amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_micro_unit_is_ten_to_the_twelve_wei() {
        assert_eq!(micro_to_wei(Amount(1)), Wei::from(WEI_PER_MICRO));
        assert_eq!(wei_to_micro(Wei::from(WEI_PER_MICRO)), Some(Amount(1)));
    }

    #[test]
    fn wei_below_a_micro_unit_has_no_micro_value() {
        assert_eq!(wei_to_micro(Wei::from(1u64)), None);
        assert_eq!(wei_to_micro(Wei::from(WEI_PER_MICRO + 1)), None);
        assert_eq!(wei_to_micro(Wei::MAX), None);
    }

    #[test]
    fn a_cap_below_the_base_fee_cannot_pay() {
        assert_eq!(effective_gas_price(BASE_FEE_WEI - 1, 0), None);
        assert_eq!(effective_gas_price(BASE_FEE_WEI, 10), Some(BASE_FEE_WEI));
    }

    #[test]
    fn the_tip_below_a_micro_is_not_charged() {
        let max = 3 * BASE_FEE_WEI;
        assert_eq!(effective_gas_price(max, 1), Some(BASE_FEE_WEI));
        assert_eq!(
            effective_gas_price(max, WEI_PER_MICRO * 3 / 2),
            Some(BASE_FEE_WEI + WEI_PER_MICRO)
        );
        assert_eq!(effective_gas_price(max, u128::MAX), Some(max));
    }

    proptest! {
        #[test]
        fn micro_survive_the_round_trip_through_wei(m in any::<u128>()) {
            prop_assert_eq!(wei_to_micro(micro_to_wei(Amount(m))), Some(Amount(m)));
        }

        #[test]
        fn the_fee_is_exactly_gas_times_price(gas in any::<u64>(), max in any::<u64>(), tip in any::<u64>()) {
            if let Some(p) = effective_gas_price(u128::from(max) * 1_000, u128::from(tip) * 1_000) {
                let fee = gas_fee(gas, p).expect("fits");
                prop_assert_eq!(micro_to_wei(fee), Wei::from(gas) * Wei::from(p));
            }
        }
    }
}

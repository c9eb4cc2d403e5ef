use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn o(price: u64, qty_wh: u64) -> Order {
    Order { price, qty_wh }
}

/// Reference: the largest volume over all candidate prices of min(demand, supply).
fn ref_volume(bids: &[Order], asks: &[Order]) -> u64 {
    let prices: BTreeSet<u64> = bids.iter().chain(asks).map(|o| o.price).collect();
    prices
        .iter()
        .map(|&p| {
            let d: u64 = bids.iter().filter(|b| b.price >= p).map(|b| b.qty_wh).sum();
            let s: u64 = asks.iter().filter(|a| a.price <= p).map(|a| a.qty_wh).sum();
            d.min(s)
        })
        .max()
        .unwrap_or(0)
}

/// Reference fills of one side: better than the marginal price in full, worse not at all,
/// equal pro rata with the remainder to the earliest orders whose share had a fraction.
fn ref_fills(orders: &[Order], volume: u64, better: impl Fn(u64, u64) -> bool) -> Vec<u64> {
    let mut fills = vec![0; orders.len()];
    if volume == 0 {
        return fills;
    }
    let prices: BTreeSet<u64> = orders
        .iter()
        .filter(|o| o.qty_wh > 0)
        .map(|o| o.price)
        .collect();
    let ahead = |m: u64| -> u64 {
        orders
            .iter()
            .filter(|o| better(o.price, m))
            .map(|o| o.qty_wh)
            .sum()
    };
    let at = |m: u64| -> u64 {
        orders
            .iter()
            .filter(|o| o.price == m)
            .map(|o| o.qty_wh)
            .sum()
    };
    let m = *prices
        .iter()
        .find(|&&m| ahead(m) < volume && ahead(m) + at(m) >= volume)
        .expect("a marginal price exists");
    let left = volume - ahead(m);
    let total = at(m);
    let mut given = 0;
    let mut fractional = Vec::new();
    for (i, ord) in orders.iter().enumerate() {
        if ord.qty_wh == 0 {
            continue;
        }
        if better(ord.price, m) {
            fills[i] = ord.qty_wh;
        } else if ord.price == m {
            fills[i] = left * ord.qty_wh / total;
            given += fills[i];
            if !(left * ord.qty_wh).is_multiple_of(total) {
                fractional.push(i);
            }
        }
    }
    for &i in fractional.iter().take((left - given) as usize) {
        fills[i] += 1;
    }
    fills
}

fn ref_price(bids: &[Order], asks: &[Order], bf: &[u64], af: &[u64], k_ppm: u64) -> Option<u64> {
    if bf.iter().sum::<u64>() == 0 {
        return None;
    }
    let asks_trading = asks
        .iter()
        .zip(af)
        .filter(|(_, f)| **f > 0)
        .map(|(a, _)| a.price);
    let bids_unfilled = bids
        .iter()
        .zip(bf)
        .filter(|(b, f)| **f < b.qty_wh)
        .map(|(b, _)| b.price);
    let bids_trading = bids
        .iter()
        .zip(bf)
        .filter(|(_, f)| **f > 0)
        .map(|(b, _)| b.price);
    let asks_unfilled = asks
        .iter()
        .zip(af)
        .filter(|(a, f)| **f < a.qty_wh)
        .map(|(a, _)| a.price);
    let p_low = asks_trading.chain(bids_unfilled).max()?;
    let p_high = bids_trading.chain(asks_unfilled).min()?;
    Some(p_low + (p_high - p_low) * k_ppm / PPM)
}

fn book() -> impl Strategy<Value = (Vec<Order>, Vec<Order>)> {
    // A narrow price range and small quantities make ties and marginal levels common.
    let order = (1u64..12, 0u64..40).prop_map(|(p, q)| o(p * 1_000, q));
    (
        proptest::collection::vec(order.clone(), 0..25),
        proptest::collection::vec(order, 0..25),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn clearing_matches_the_reference_on_random_books((bids, asks) in book(), k in 0u64..=PPM) {
        let c = clear(&bids, &asks, PricingRule::PayAsClear { k_ppm: k as u32 });
        let v = ref_volume(&bids, &asks);
        prop_assert_eq!(c.volume_wh, v);
        let bf = ref_fills(&bids, v, |p, m| p > m);
        let af = ref_fills(&asks, v, |p, m| p < m);
        prop_assert_eq!(&c.bid_fills, &bf);
        prop_assert_eq!(&c.ask_fills, &af);
        prop_assert_eq!(c.bid_fills.iter().sum::<u64>(), v);
        prop_assert_eq!(c.ask_fills.iter().sum::<u64>(), v);
        prop_assert_eq!(c.price, ref_price(&bids, &asks, &bf, &af, k));
        if let Some(p) = c.price {
            for (b, f) in bids.iter().zip(&c.bid_fills) {
                prop_assert!(*f <= b.qty_wh && (*f == 0 || b.price >= p));
            }
            for (a, f) in asks.iter().zip(&c.ask_fills) {
                prop_assert!(*f <= a.qty_wh && (*f == 0 || a.price <= p));
            }
        }
    }

    #[test]
    fn pay_as_bid_moves_every_micro_unit_from_buyers_to_sellers((bids, asks) in book()) {
        let c = clear(&bids, &asks, PricingRule::PayAsBid);
        prop_assert_eq!(c.volume_wh, ref_volume(&bids, &asks));
        prop_assert_eq!(c.bid_values.iter().sum::<u128>(), c.ask_values.iter().sum::<u128>());
        for (b, (f, v)) in bids.iter().zip(c.bid_fills.iter().zip(&c.bid_values)) {
            prop_assert_eq!(*v, u128::from(*f) * u128::from(b.price));
        }
        for (a, (f, v)) in asks.iter().zip(c.ask_fills.iter().zip(&c.ask_values)) {
            prop_assert!(*v >= u128::from(*f) * u128::from(a.price), "a seller got less than it asked");
        }
    }
}

#[test]
fn the_issue_example_clears_at_the_midpoint() {
    let c = clear(
        &[o(210_000, 1500)],
        &[o(80_000, 1500)],
        PricingRule::PayAsClear { k_ppm: 500_000 },
    );
    assert_eq!((c.price, c.volume_wh), (Some(145_000), 1500));
    assert_eq!((c.bid_fills, c.ask_fills), (vec![1500], vec![1500]));
}

#[test]
fn nothing_trades_when_the_best_bid_is_below_the_best_ask() {
    let c = clear(
        &[o(100, 10)],
        &[o(101, 10)],
        PricingRule::PayAsClear { k_ppm: 500_000 },
    );
    assert_eq!((c.price, c.volume_wh), (None, 0));
    assert_eq!(c.bid_fills, vec![0]);
}

#[test]
fn the_marginal_level_is_shared_pro_rata_with_the_remainder_to_the_earliest() {
    // 10 Wh of supply against three equal bids of 4, 4 and 4: 10 * 4 / 12 = 3.33 each, so
    // 3, 3, 3 and the one Wh left goes to the earliest.
    let c = clear(
        &[o(5, 4), o(5, 4), o(5, 4)],
        &[o(1, 10)],
        PricingRule::PayAsClear { k_ppm: 0 },
    );
    assert_eq!(c.bid_fills, vec![4, 3, 3]);
    assert_eq!(c.volume_wh, 10);
}

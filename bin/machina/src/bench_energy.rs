//! `machina bench --clearing`: the market's clearing on random books, one core.

use crate::bench::median;
use machina_energy::{clear, Order, PricingRule};
use machina_primitives::sha256;
use serde_json::json;
use std::time::Instant;

/// A deterministic random book: prices 50,000 to 300,000 micro/kWh, 100 to 5,000 Wh.
fn book(n: usize, seed: &[u8]) -> Vec<Order> {
    (0..n as u64)
        .map(|i| {
            let h = sha256(&[seed, &i.to_be_bytes()]).0;
            let r = |k: usize| u64::from_be_bytes(h[k..k + 8].try_into().expect("8 bytes"));
            Order {
                price: 50_000 + r(0) % 250_001,
                qty_wh: 100 + r(8) % 4_901,
            }
        })
        .collect()
}

/// Times clearing books of 10k, 100k and 1M orders (half bids, half asks).
pub fn run(runs: usize, json: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for total in [10_000usize, 100_000, 1_000_000] {
        let (bids, asks) = (book(total / 2, b"bids"), book(total / 2, b"asks"));
        let mut ms = Vec::new();
        let mut volume = 0;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let c = clear(&bids, &asks, PricingRule::PayAsClear { k_ppm: 500_000 });
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            volume = c.volume_wh;
        }
        rows.push(json!({"orders": total, "clear_ms": (median(ms) * 100.0).round() / 100.0, "volume_wh": volume}));
    }
    if json {
        println!("{}", json!({ "clearing": rows }));
    } else {
        println!("machina bench --clearing: pay-as-clear on random books, one core, median of {runs} runs");
        for r in &rows {
            println!(
                "  {:>9} orders  {:>9.2} ms  volume {} Wh",
                r["orders"],
                r["clear_ms"].as_f64().unwrap_or(0.0),
                r["volume_wh"]
            );
        }
    }
    Ok(())
}

//! `machina energy`: the market's clearing, offline.

use anyhow::{bail, Context};
use clap::Subcommand;
use machina_energy::{clear, Order, PricingRule};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

/// `machina energy ...`.
#[derive(Subcommand)]
pub enum EnergyCmd {
    /// Clear an order book file with the chain's own clearing code.
    Clear {
        /// JSON: {"rule": "pay-as-clear", "k": 0.5, "bids": [{"id", "price", "qty_wh"}], "asks": [...]}.
        #[arg(long)]
        book: PathBuf,
    },
}

#[derive(Deserialize)]
struct Book {
    rule: String,
    #[serde(default = "half")]
    k: f64,
    bids: Vec<BookOrder>,
    asks: Vec<BookOrder>,
}

fn half() -> f64 {
    0.5
}

#[derive(Deserialize)]
struct BookOrder {
    id: Value,
    price: u64,
    qty_wh: u64,
}

fn rule(book: &Book) -> anyhow::Result<PricingRule> {
    match book.rule.replace('_', "-").as_str() {
        "pay-as-clear" => {
            if !(0.0..=1.0).contains(&book.k) {
                bail!("k must be between 0 and 1, got {}", book.k);
            }
            Ok(PricingRule::PayAsClear {
                k_ppm: (book.k * 1e6).round() as u32,
            })
        }
        "pay-as-bid" => Ok(PricingRule::PayAsBid),
        other => bail!("unknown rule {other}: pay-as-clear or pay-as-bid"),
    }
}

/// The output, with keys in the documented order.
#[derive(Serialize)]
struct Outcome<'a> {
    clearing_price: Option<u64>,
    volume_wh: u64,
    fills: Vec<Fill<'a>>,
}

#[derive(Serialize)]
struct Fill<'a> {
    id: &'a Value,
    qty_wh: u64,
    /// The order's average price: the uniform price, or under pay-as-bid its own bid or the
    /// bids its ask met, rounded down.
    price: u64,
}

fn fills<'a>(orders: &'a [BookOrder], qty: &[u64], values: &[u128], out: &mut Vec<Fill<'a>>) {
    for ((o, q), v) in orders.iter().zip(qty).zip(values) {
        if *q > 0 {
            out.push(Fill {
                id: &o.id,
                qty_wh: *q,
                price: (v / u128::from(*q)) as u64,
            });
        }
    }
}

/// Runs `machina energy ...`.
pub fn run(cmd: EnergyCmd, json: bool) -> anyhow::Result<()> {
    let EnergyCmd::Clear { book } = cmd;
    let bytes = std::fs::read(&book).with_context(|| format!("reading {}", book.display()))?;
    let book: Book = serde_json::from_slice(&bytes)
        .context("the book is not valid JSON of the documented form")?;
    let rule = rule(&book)?;
    let to_orders = |v: &[BookOrder]| -> Vec<Order> {
        v.iter()
            .map(|o| Order {
                price: o.price,
                qty_wh: o.qty_wh,
            })
            .collect()
    };
    let (bids, asks) = (to_orders(&book.bids), to_orders(&book.asks));
    let started = std::time::Instant::now();
    let c = clear(&bids, &asks, rule);
    let took = started.elapsed();
    let mut out = Vec::new();
    fills(&book.bids, &c.bid_fills, &c.bid_values, &mut out);
    fills(&book.asks, &c.ask_fills, &c.ask_values, &mut out);
    if json {
        let outcome = Outcome {
            clearing_price: c.price,
            volume_wh: c.volume_wh,
            fills: out,
        };
        // A reader that stops early (`| head`) is not an error worth a panic.
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string(&outcome)?
        );
    } else {
        let price = c
            .price
            .map_or("none (pay-as-bid or no trade)".to_owned(), |p| {
                format!("{p} micro/kWh")
            });
        println!(
            "{} bids, {} asks: volume {} Wh, price {price}, {} orders filled, cleared in {:.1} ms",
            bids.len(),
            asks.len(),
            c.volume_wh,
            out.len(),
            took.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

//! The energy market's `machina tx energy` and `machina query energy` subcommands.

use crate::action::{EnergyAction, MarketRule, Side, ZoneConfig};
use crate::routes::{IntervalView, TradesView, ZoneView, ZonesView};
use anyhow::Context;
use clap::Subcommand;
use machina_module_cli::{attr_u64, event_attr, now_ms, QueryHost, TxHost};
use machina_primitives::Amount;
use serde_json::json;

/// `machina tx energy ...`.
#[derive(Subcommand)]
pub enum EnergyTx {
    /// The peer-to-peer energy market.
    #[command(subcommand)]
    Energy(EnergyTxCmd),
}

/// `machina query energy ...`.
#[derive(Subcommand)]
pub enum EnergyQueryCmd {
    /// The energy market: zones, intervals, orders, a machine's trades.
    #[command(subcommand)]
    Energy(EnergyQuery),
}

/// What `machina query energy` reads.
#[derive(Subcommand)]
pub enum EnergyQuery {
    /// All zones.
    Zones,
    /// A zone's rules, cursors and accounts.
    Zone {
        /// Zone name.
        name: String,
    },
    /// An interval's book, clearing result and settlement.
    Interval {
        /// Zone name.
        zone: String,
        /// Interval start, ms (a multiple of the zone's interval length).
        #[arg(long)]
        start_ms: u64,
    },
    /// One order with its fill and settlement.
    Order {
        /// Zone name.
        zone: String,
        /// Order id.
        id: u64,
    },
    /// A machine's orders, fills and bills over a span.
    Trades {
        /// Machine id.
        machine: u64,
        /// Span start, ms.
        #[arg(long)]
        from_ms: u64,
        /// Span end, ms.
        #[arg(long)]
        to_ms: u64,
    },
}

/// Runs an energy `tx` subcommand.
pub fn run_tx(host: &impl TxHost<EnergyAction>, cmd: EnergyTx) -> anyhow::Result<()> {
    let EnergyTx::Energy(cmd) = cmd;
    run_energy(host, cmd)
}

/// Runs an energy `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: EnergyQueryCmd) -> anyhow::Result<()> {
    let EnergyQueryCmd::Energy(q) = cmd;
    // Each answer is read as its route's response type, so a drift fails here, not later.
    let v = match &q {
        EnergyQuery::Zones => host.get_as::<ZonesView>("/v1/energy/zones")?.1,
        EnergyQuery::Zone { name } => {
            host.get_as::<ZoneView>(&format!("/v1/energy/zone/{name}"))?
                .1
        }
        EnergyQuery::Interval { zone, start_ms } => {
            host.get_as::<IntervalView>(&format!("/v1/energy/zone/{zone}/interval/{start_ms}"))?
                .1
        }
        EnergyQuery::Order { zone, id } => {
            host.get_as::<crate::OrderRec>(&format!("/v1/energy/zone/{zone}/order/{id}"))?
                .1
        }
        EnergyQuery::Trades {
            machine,
            from_ms,
            to_ms,
        } => {
            host.get_as::<TradesView>(&format!(
                "/v1/energy/machine/{machine}/orders?from_ms={from_ms}&to_ms={to_ms}"
            ))?
            .1
        }
    };
    host.print_json(&v);
    Ok(())
}

/// `machina tx energy ...`.
#[derive(Subcommand)]
pub enum EnergyTxCmd {
    /// Create a zone (a neighbourhood behind one transformer).
    CreateZone {
        /// Key name of the creator (funds the grid account).
        #[arg(long)]
        from: String,
        /// Zone name; machines name it as their zone.
        #[arg(long)]
        name: String,
        /// Delivery interval, ms.
        #[arg(long, default_value_t = 900_000)]
        interval_ms: u64,
        /// Orders close this long before their interval starts, ms.
        #[arg(long, default_value_t = 60_000)]
        gate_closure_ms: u64,
        /// Grid retail price, micro-units per kWh (no bid above).
        #[arg(long)]
        retail_price: u64,
        /// Grid feed-in tariff, micro-units per kWh (no ask below).
        #[arg(long)]
        feed_in_price: u64,
        /// Market fee on sellers' revenue, basis points.
        #[arg(long, default_value_t = 0)]
        market_fee_bps: u32,
        /// pay-as-clear or pay-as-bid.
        #[arg(long, default_value = "pay-as-clear")]
        rule: String,
        /// Pay-as-clear position between p_low (0) and p_high (1).
        #[arg(long, default_value_t = 0.5)]
        k: f64,
        /// Transformer import limit, W.
        #[arg(long)]
        import_limit_w: u64,
        /// Transformer export limit, W.
        #[arg(long)]
        export_limit_w: u64,
        /// Settlement waits at most this long after an interval for readings, ms.
        #[arg(long, default_value_t = 600_000)]
        settlement_deadline_ms: u64,
        /// Micro-units moved into the zone's grid account (pays feed-in credits; at least
        /// 100 tokens).
        #[arg(long, default_value_t = crate::market::MIN_GRID_FLOAT)]
        grid_float: Amount,
    },
    /// Buy up to `--qty-wh` at most at `--price` for an interval.
    Bid(OrderArgs),
    /// Sell up to `--qty-wh` at least at `--price` for an interval.
    Ask(OrderArgs),
    /// Cancel an order before its gate closes.
    Cancel {
        /// Key name of the machine's device key or its owner.
        #[arg(long)]
        from: String,
        /// The zone.
        #[arg(long)]
        zone: String,
        /// The order.
        #[arg(long)]
        order: u64,
    },
}

/// A bid or an ask.
#[derive(clap::Args)]
pub struct OrderArgs {
    /// Key name of the machine's owner (or of its device key, with the machine as sender).
    #[arg(long)]
    from: String,
    /// The machine.
    #[arg(long)]
    machine: u64,
    /// Start of the delivery interval, ms (default: the next interval whose gate is open).
    #[arg(long)]
    interval_start_ms: Option<u64>,
    /// Limit price, micro-units per kWh.
    #[arg(long)]
    price: u64,
    /// Quantity, Wh.
    #[arg(long)]
    qty_wh: u64,
    /// Send as the machine (signed by `--from`, its device key) rather than as its owner.
    #[arg(long)]
    as_machine: bool,
}

fn next_interval(host: &impl TxHost<EnergyAction>, machine: u64) -> anyhow::Result<u64> {
    let m = host.get(&format!("/v1/machine/{machine}"))?;
    let zone = m["zone"]
        .as_str()
        .context("the machine belongs to no zone")?;
    let z = host.get(&format!("/v1/energy/zone/{zone}"))?;
    let interval = z["zone"]["config"]["interval_ms"]
        .as_u64()
        .context("zone interval")?;
    let gate = z["zone"]["config"]["gate_closure_ms"]
        .as_u64()
        .context("zone gate closure")?;
    let now = now_ms().max(
        host.get("/v1/block/latest")?["timestamp_ms"]
            .as_u64()
            .unwrap_or(0),
    );
    // Leave a few seconds for the transaction to be included before the gate closes.
    let earliest = now + gate + 5_000;
    Ok(earliest.div_ceil(interval) * interval)
}

fn run_energy(host: &impl TxHost<EnergyAction>, cmd: EnergyTxCmd) -> anyhow::Result<()> {
    let place = |side: Side, a: OrderArgs| -> anyhow::Result<()> {
        let start = match a.interval_start_ms {
            Some(t) => t,
            None => next_interval(host, a.machine)?,
        };
        let action = EnergyAction::PlaceOrder {
            machine_id: a.machine,
            side,
            interval_start_ms: start,
            price: a.price,
            qty_wh: a.qty_wh,
        };
        let rec = if a.as_machine {
            host.send(
                &host.key(&a.from)?,
                host.machine_address(a.machine)?,
                vec![action],
            )?
        } else {
            host.send_from(&a.from, vec![action])?.1
        };
        let id = attr_u64(event_attr(&rec, "order_placed", "order_id"));
        let out = json!({"order_id": id, "interval_start_ms": start, "tx_hash": rec["tx_hash"]});
        host.print(&out, &|| {
            let id = id.map_or_else(|| "?".to_owned(), |i| i.to_string());
            format!("order {id} for the interval starting at {start} ms")
        });
        Ok(())
    };
    match cmd {
        EnergyTxCmd::Bid(a) => place(Side::Bid, a),
        EnergyTxCmd::Ask(a) => place(Side::Ask, a),
        EnergyTxCmd::Cancel { from, zone, order } => {
            host.print_receipt(
                &host
                    .send_from(
                        &from,
                        vec![EnergyAction::CancelOrder {
                            zone,
                            order_id: order,
                        }],
                    )?
                    .1,
            );
            Ok(())
        }
        EnergyTxCmd::CreateZone {
            from,
            name,
            interval_ms,
            gate_closure_ms,
            retail_price,
            feed_in_price,
            market_fee_bps,
            rule,
            k,
            import_limit_w,
            export_limit_w,
            settlement_deadline_ms,
            grid_float,
        } => {
            let rule = match rule.as_str() {
                "pay-as-clear" if (0.0..=1.0).contains(&k) => MarketRule::PayAsClear {
                    k_ppm: (k * 1e6).round() as u32,
                },
                "pay-as-clear" => anyhow::bail!("--k is between 0 and 1"),
                "pay-as-bid" => MarketRule::PayAsBid,
                other => anyhow::bail!("unknown rule {other}: pay-as-clear or pay-as-bid"),
            };
            let config = ZoneConfig {
                name,
                interval_ms,
                gate_closure_ms,
                retail_price,
                feed_in_price,
                market_fee_bps,
                rule,
                import_limit_w,
                export_limit_w,
                settlement_deadline_ms,
            };
            let action = EnergyAction::CreateZone {
                config: Box::new(config),
                grid_float,
            };
            host.print_receipt(&host.send_from(&from, vec![action])?.1);
            Ok(())
        }
    }
}

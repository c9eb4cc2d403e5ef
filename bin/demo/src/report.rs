//! The demo's report: read back from the chain, checked for integrity, printed, and written
//! as JSON, CSV and PNG charts.

use crate::compute::ComputeSim;
use crate::shares::SharesSim;
use crate::{Sim, FEED_IN, RETAIL};
use anyhow::Context;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// One zone's interval as the chain settled it.
struct IntervalRow {
    zone: String,
    start_ms: u64,
    price: Option<u64>,
    volume_wh: u64,
    local_wh: u64,
    shortfall_wh: u64,
    unused_wh: u64,
}

/// Reads every interval back from the node and checks that each settlement matches the
/// readings and each escrow is accounted.
fn intervals(sim: &Sim) -> anyhow::Result<(Vec<IntervalRow>, Value, bool)> {
    let zones: Vec<String> = sim.client.get("/v1/energy/zones")?["zones"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|z| z.as_str().map(str::to_owned))
        .filter(|z| z.starts_with("zone-"))
        .collect();
    let step = machina_sim::INTERVAL_MIN * 60_000;
    let mut rows = Vec::new();
    let (mut fees, mut rounding, mut charges, mut credits) = (0u128, 0u128, 0u128, 0u128);
    let (mut settled, mut matched, mut open_escrow) = (0u64, 0u64, 0u128);
    for zone in &zones {
        for i in 0..sim.community.intervals {
            let start = sim.start_ms + i as u64 * step;
            let v = sim
                .client
                .get(&format!("/v1/energy/zone/{zone}/interval/{start}"))?;
            let iv = &v["interval"];
            let amount = |k: &str| {
                iv[k]
                    .as_str()
                    .and_then(|x| x.parse::<u128>().ok())
                    .unwrap_or(0)
            };
            fees += amount("fees");
            rounding += amount("rounding");
            charges += amount("shortfall_charges");
            credits += amount("unused_credits");
            let (mut bought, mut sold, mut shortfall, mut unused) = (0u64, 0u64, 0u64, 0u64);
            for o in v["orders"].as_array().into_iter().flatten() {
                let fill = o["fill_wh"].as_u64().unwrap_or(0);
                let metered = o["metered_wh"].as_u64().unwrap_or(0);
                match o["status"].as_str() {
                    Some("open") | Some("cleared") => {
                        open_escrow += o["escrow"]
                            .as_str()
                            .and_then(|x| x.parse::<u128>().ok())
                            .unwrap_or(0);
                    }
                    Some("settled") if fill > 0 => {
                        settled += 1;
                        let id = o["machine_id"].as_u64().context("machine id")?;
                        let e = sim.client.get(&format!(
                            "/v1/meter/{id}/energy?from_ms={start}&to_ms={}",
                            start + step
                        ))?;
                        let bid = o["side"] == "bid";
                        let measured = if bid {
                            e["import_wh"].as_u64()
                        } else {
                            e["export_wh"].as_u64()
                        }
                        .unwrap_or(0);
                        if measured.min(fill) == metered {
                            matched += 1;
                        }
                        if bid {
                            bought += metered;
                            unused += fill - metered;
                        } else {
                            sold += metered;
                            shortfall += fill - metered;
                        }
                    }
                    _ => {}
                }
            }
            rows.push(IntervalRow {
                zone: zone.clone(),
                start_ms: start,
                price: iv["price"].as_u64(),
                volume_wh: iv["volume_wh"].as_u64().unwrap_or(0),
                local_wh: bought.min(sold),
                shortfall_wh: shortfall,
                unused_wh: unused,
            });
        }
    }
    let mut escrow_balance = 0u128;
    for zone in &zones {
        let z = sim.client.get(&format!("/v1/energy/zone/{zone}"))?;
        let a = z["escrow_account"].as_str().context("escrow account")?;
        escrow_balance += sim.client.get(&format!("/v1/account/{a}"))?["balance"]
            .as_str()
            .unwrap_or("0")
            .parse::<u128>()?;
    }
    let escrow_ok = escrow_balance == open_escrow;
    let settlements_ok = settled == matched;
    let money = json!({
        "market_fees_micro": fees,
        "rounding_micro": rounding,
        "shortfall_charges_micro": charges,
        "unused_credits_micro": credits,
        "escrow_ok": escrow_ok,
        "settlements_checked": settled,
        "settlements_matching_readings": matched,
    });
    Ok((rows, money, escrow_ok && settlements_ok))
}

/// Builds the report.
pub fn build(
    sim: &Sim,
    cs: &ComputeSim,
    ss: &SharesSim,
    (shares, shares_ok): (Value, bool),
    took: Duration,
) -> anyhow::Result<Value> {
    let (rows, money, ok) = intervals(sim)?;
    let (compute, compute_ok) = crate::compute::report(sim, cs)?;
    let imports: u64 = sim
        .community
        .machines
        .iter()
        .flat_map(|m| &m.import_wh)
        .sum();
    let exports: u64 = sim
        .community
        .machines
        .iter()
        .flat_map(|m| &m.export_wh)
        .sum();
    let p2p: u64 = rows.iter().map(|r| r.local_wh).sum();
    let traded: u64 = rows.iter().map(|r| r.volume_wh).sum();
    let priced: Vec<u64> = rows.iter().filter_map(|r| r.price).collect();
    let avg_price = if priced.is_empty() {
        0
    } else {
        priced.iter().sum::<u64>() / priced.len() as u64
    };
    let fees = money["market_fees_micro"].as_u64().unwrap_or(0)
        + money["rounding_micro"].as_u64().unwrap_or(0);
    // Energy kept local is worth the spread between retail and feed-in, less market fees.
    let savings =
        (u128::from(p2p) * u128::from(RETAIL - FEED_IN) / 1000) as i128 - i128::from(fees);
    let health = sim.client.get("/v1/health")?;
    let supply_ok = supply_conserved(sim, cs, ss)?;
    Ok(json!({
        "households": sim.community.households,
        "machines": sim.machines.len(),
        "intervals": sim.community.intervals,
        "p2p_energy_wh": p2p,
        "matched_energy_wh": traded,
        "grid_import_wh": imports - p2p,
        "grid_export_wh": exports - p2p,
        "consumption_wh": imports,
        "generation_wh": exports,
        "self_sufficiency": if imports == 0 { 0.0 } else { p2p as f64 / imports as f64 },
        "avg_clearing_price": avg_price,
        "retail_price": RETAIL,
        "feed_in_price": FEED_IN,
        "savings_micro": savings,
        "imbalance": {
            "shortfall_wh": rows.iter().map(|r| r.shortfall_wh).sum::<u64>(),
            "unused_wh": rows.iter().map(|r| r.unused_wh).sum::<u64>(),
            "shortfall_charges_micro": money["shortfall_charges_micro"],
            "unused_credits_micro": money["unused_credits_micro"],
        },
        "money": money,
        "transactions": sim.transactions,
        "blocks": health["height"],
        "wall_time_s": (took.as_secs_f64() * 10.0).round() / 10.0,
        "transactions_per_s": (sim.transactions as f64 / took.as_secs_f64()).round(),
        "state_root": health["state_root"],
        "supply_conserved": supply_ok,
        "compute": compute,
        "shares": shares,
        "integrity_ok": ok && supply_ok && compute_ok && shares_ok,
        "interval_rows": rows.iter().map(|r| json!({"zone": r.zone, "start_ms": r.start_ms, "price": r.price, "volume_wh": r.volume_wh, "local_wh": r.local_wh})).collect::<Vec<_>>(),
    }))
}

/// Every micro-unit the demo moved is still among the accounts it knows: nothing was created
/// or lost. (The demo's accounts start empty but for alice, who funds them.)
fn supply_conserved(sim: &Sim, cs: &ComputeSim, ss: &SharesSim) -> anyhow::Result<bool> {
    let mut accounts: Vec<String> = vec![
        machina_primitives::Keypair::dev("alice")
            .address()
            .to_string(),
        machina_node::dev_proposer().address().to_string(),
        sim.sponsor.address().to_string(),
    ];
    accounts.extend(sim.machines.iter().map(|m| m.address.to_string()));
    let zones = sim.client.get("/v1/energy/zones")?;
    for z in zones["zones"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let info = sim.client.get(&format!("/v1/energy/zone/{z}"))?;
        for k in ["escrow_account", "grid_account", "fee_account"] {
            accounts.push(info[k].as_str().unwrap_or_default().to_owned());
        }
    }
    for h in 0..sim.community.households {
        accounts.push(crate::owner_address(sim, h).to_string());
    }
    accounts.push(crate::gateway_address(sim).to_string());
    accounts.extend(crate::compute::accounts(cs).iter().map(ToString::to_string));
    accounts.extend(crate::shares::accounts(ss).iter().map(ToString::to_string));
    accounts.sort();
    accounts.dedup();
    let mut total = 0u128;
    for a in &accounts {
        total += sim.client.get(&format!("/v1/account/{a}"))?["balance"]
            .as_str()
            .unwrap_or("0")
            .parse::<u128>()?;
    }
    Ok(total == sim.known_total_at_start)
}

/// Prints the report on the terminal (or as JSON).
pub fn print(r: &Value, json: bool) {
    if json {
        let mut short = r.clone();
        short.as_object_mut().map(|o| o.remove("interval_rows"));
        println!("{short}");
        return;
    }
    let kwh = |k: &str| r[k].as_u64().unwrap_or(0) as f64 / 1000.0;
    let token = |v: &Value| v.as_i64().unwrap_or(0) as f64 / 1e6;
    println!(
        "Energy community, {} households, {} machines, {} intervals",
        r["households"], r["machines"], r["intervals"]
    );
    println!(
        "  consumption {:>10.1} kWh   generation {:>10.1} kWh",
        kwh("consumption_wh"),
        kwh("generation_wh")
    );
    println!(
        "  between neighbours {:>7.1} kWh   from the grid {:>8.1} kWh   to the grid {:>8.1} kWh",
        kwh("p2p_energy_wh"),
        kwh("grid_import_wh"),
        kwh("grid_export_wh")
    );
    println!(
        "  self-sufficiency   {:>6.1} %",
        r["self_sufficiency"].as_f64().unwrap_or(0.0) * 100.0
    );
    println!(
        "  average clearing price {:.3} token/kWh (retail {:.3}, feed-in {:.3})",
        r["avg_clearing_price"].as_u64().unwrap_or(0) as f64 / 1e6,
        RETAIL as f64 / 1e6,
        FEED_IN as f64 / 1e6
    );
    println!(
        "  community savings against the grid alone: {:.2} tokens",
        token(&r["savings_micro"])
    );
    let im = &r["imbalance"];
    println!(
        "  imbalances: {:.1} kWh short (charged {:.2}), {:.1} kWh unused (credited {:.2})",
        im["shortfall_wh"].as_u64().unwrap_or(0) as f64 / 1000.0,
        im["shortfall_charges_micro"].as_u64().unwrap_or(0) as f64 / 1e6,
        im["unused_wh"].as_u64().unwrap_or(0) as f64 / 1000.0,
        im["unused_credits_micro"].as_u64().unwrap_or(0) as f64 / 1e6
    );
    println!(
        "  {} transactions in {} blocks, {} s, {} tx/s",
        r["transactions"], r["blocks"], r["wall_time_s"], r["transactions_per_s"]
    );
    let c = &r["compute"];
    if c["gpu_servers"].as_u64().unwrap_or(0) > 0 {
        let micro = |v: &Value| v.as_str().and_then(|s| s.parse::<u128>().ok()).unwrap_or(0);
        println!(
            "Compute overnight, {} GPU servers: {} jobs, {} leases paid {:.3} tokens, {} breach(es) slashed {:.2} tokens to tenants",
            c["gpu_servers"],
            c["jobs"],
            c["leases"],
            micro(&c["paid_micro"]) as f64 / 1e6,
            c["breaches"],
            micro(&c["slashed_micro"]) as f64 / 1e6
        );
        for s in c["servers"].as_array().into_iter().flatten() {
            println!(
                "  machine {:>4}: revenue {:.3} tokens, slashed {:.2}",
                s["machine_id"],
                micro(&s["revenue_micro"]) as f64 / 1e6,
                micro(&s["slashed_micro"]) as f64 / 1e6
            );
        }
    }
    print_shares(&r["shares"]);
    let m = &r["money"];
    println!(
        "  integrity: supply conserved {}, escrow accounted {} (compute {}), settlements matching readings {}/{} -> {}",
        r["supply_conserved"],
        m["escrow_ok"],
        c["escrow_ok"],
        m["settlements_matching_readings"],
        m["settlements_checked"],
        if r["integrity_ok"] == true { "OK" } else { "FAILED" }
    );
    println!("  state root {}", r["state_root"].as_str().unwrap_or(""));
}

fn print_shares(s: &Value) {
    let tokens =
        |v: &Value| v.as_str().and_then(|x| x.parse::<u128>().ok()).unwrap_or(0) as f64 / 1e6;
    let investors = s["investors"].as_array().map_or(0, Vec::len);
    if investors == 0 {
        return;
    }
    println!(
        "Shares: {} PV systems and batteries part-owned by {investors} investors; revenue {:.3} tokens, {:.3} to holders after operator fees, {:.3} claimed",
        s["machines_with_shares"],
        tokens(&s["revenue_micro"]),
        tokens(&s["to_holders_micro"]),
        tokens(&s["claimed_micro"]),
    );
    for i in s["investors"].as_array().into_iter().flatten().take(3) {
        println!(
            "  investor {}: {} machines, invested {:.0} tokens, paid {:.3} tokens today ({:.3} % a day, {:.1} % a year)",
            &i["investor"].as_str().unwrap_or("")[..10],
            i["machines"],
            tokens(&i["invested_micro"]),
            tokens(&i["payout_micro"]),
            i["yield_day"].as_f64().unwrap_or(0.0) * 100.0,
            i["yield_annualised"].as_f64().unwrap_or(0.0) * 100.0,
        );
    }
    let t = &s["audit_trail"];
    if t.is_object() {
        let e = &t["revenue_event"];
        println!(
            "  one payout traced: {} micro to {} for {} of {} shares of machine {} <- revenue event #{} ({} micro, fee {}) <- {} order {} in {} at {} ({} Wh filled, {} Wh metered) <- meter export {} Wh in the interval: {}",
            t["payout_micro"].as_str().unwrap_or("0"),
            &t["investor"].as_str().unwrap_or("")[..10],
            t["shares"],
            t["supply"],
            t["machine_id"],
            e["seq"],
            e["amount"].as_str().unwrap_or("0"),
            e["operator_fee"].as_str().unwrap_or("0"),
            t["order"]["side"].as_str().unwrap_or(""),
            t["order"]["order_id"],
            e["source"]["zone"].as_str().unwrap_or(""),
            e["source"]["interval_start_ms"],
            t["order"]["fill_wh"],
            t["order"]["metered_wh"],
            t["meter"]["export_wh"],
            if t["traced"] == true { "traced" } else { "BROKEN" }
        );
    }
}

/// Writes report.json, intervals.csv and the charts.
pub fn write(r: &Value, sim: &Sim, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(r)?)?;
    let mut csv = String::from("zone,start_ms,price_micro_per_kwh,volume_wh,local_wh\n");
    for row in r["interval_rows"].as_array().into_iter().flatten() {
        csv += &format!(
            "{},{},{},{},{}\n",
            row["zone"].as_str().unwrap_or(""),
            row["start_ms"],
            row["price"]
                .as_u64()
                .map_or(String::new(), |p| p.to_string()),
            row["volume_wh"],
            row["local_wh"]
        );
    }
    std::fs::write(out.join("intervals.csv"), csv)?;
    crate::charts::draw(r, sim, out)
}

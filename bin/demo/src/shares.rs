//! Investors in the demo: households sell shares of their PV systems and batteries to a few
//! investors before the day; the machines' energy sales pay the holders through the shares
//! module; at the end every investor claims, and one payout is traced back to the settlement
//! and the meter readings that earned it.

use crate::{key, Sim};
use anyhow::{bail, Context};
use machina_bank::BankAction;
use machina_primitives::{Address, Amount, Keypair};
use machina_shares::SharesAction;
use machina_sim::rng::Rng;
use machina_sim::Device;
use machina_stf::Action;
use serde_json::{json, Value};

/// Shares of each machine.
const SUPPLY: u64 = 1_000;
/// The owner's cut of each revenue event: maintenance.
const OPERATOR_FEE_BPS: u16 = 500;
/// Shares each investor buys of a machine it invests in.
const LOT: u64 = 200;
/// Investors per machine.
const PER_MACHINE: usize = 3;
/// Most machines with shares, so that the investors' budget stays within alice's funds.
const MAX_CLASSES: usize = 100;
/// Most holdings an investor takes: within what one claim of all holdings pays (64).
const MAX_PER_INVESTOR: usize = 48;

/// A machine with shares.
pub struct Class {
    /// Index into the simulation's machines.
    pub machine: usize,
    /// Chain id.
    pub id: u64,
    /// Micro-units per share: 1 token per rated watt for the whole machine.
    pub price: u128,
    /// The investors who bought a lot.
    pub investors: Vec<usize>,
}

/// The investors and the classes they bought into.
pub struct SharesSim {
    /// Investor keys.
    pub investors: Vec<Keypair>,
    /// The machines with shares.
    pub classes: Vec<Class>,
}

/// Every account the shares part of the demo moves money to: investors and the pool.
pub fn accounts(ss: &SharesSim) -> Vec<Address> {
    let mut a: Vec<Address> = ss.investors.iter().map(Keypair::address).collect();
    a.push(machina_shares::pool_address());
    a
}

/// Issues shares of every other household's PV and battery, offers 60 % of them, and has the
/// investors buy lots of 200, each payment and its shares swapped in one action.
pub fn setup(sim: &mut Sim, t: &mut u64) -> anyhow::Result<SharesSim> {
    let mut classes: Vec<Class> = (0..sim.machines.len())
        .filter(|&i| {
            let m = &sim.community.machines[i];
            matches!(m.device, Device::Solar | Device::Battery) && m.household.is_multiple_of(2)
        })
        .take(MAX_CLASSES)
        .map(|i| Class {
            machine: i,
            id: sim.machines[i].id,
            price: u128::from(sim.community.machines[i].rated_power_w) * 1_000_000
                / u128::from(SUPPLY),
            investors: Vec::new(),
        })
        .collect();
    let n = (classes.len() * PER_MACHINE)
        .div_ceil(MAX_PER_INVESTOR)
        .max(PER_MACHINE + 1);
    let investors: Vec<Keypair> = (0..n).map(|i| key(sim.seed, "investor", i)).collect();
    let mut rng = Rng::new(sim.seed ^ 0x5AE5);
    let mut taken = vec![0usize; n];
    for c in &mut classes {
        while c.investors.len() < PER_MACHINE {
            let i = (rng.range(0.0, n as f64) as usize).min(n - 1);
            if !c.investors.contains(&i) && taken[i] < MAX_PER_INVESTOR {
                c.investors.push(i);
                taken[i] += 1;
            }
        }
    }
    // Alice funds each investor with what its lots cost and a token for fees.
    let mut cost = vec![0u128; n];
    for c in &classes {
        for &i in &c.investors {
            cost[i] += c.price * u128::from(LOT);
        }
    }
    let alice = Keypair::dev("alice");
    let funding: Vec<Action> = investors
        .iter()
        .zip(&cost)
        .map(|(k, c)| {
            BankAction::Transfer {
                to: k.address(),
                amount: Amount(c + 1_000_000),
            }
            .into()
        })
        .collect();
    let mut txs = Vec::new();
    for chunk in funding.chunks(64) {
        txs.push(sim.tx(&alice, alice.address(), None, chunk.to_vec()));
    }
    // Each owner issues and offers in one transaction per machine.
    for c in &classes {
        let h = sim.community.machines[c.machine].household;
        let owner = key(sim.seed, "owner", h);
        let actions = vec![
            SharesAction::IssueShares {
                machine_id: c.id,
                supply: SUPPLY,
                operator_fee_bps: OPERATOR_FEE_BPS,
                forced_transfer: false,
            }
            .into(),
            SharesAction::OfferShares {
                machine_id: c.id,
                amount: LOT * PER_MACHINE as u64,
                price_per_share: Amount(c.price),
            }
            .into(),
        ];
        txs.push(sim.tx(&owner, owner.address(), None, actions));
    }
    sim.include(txs, t)?;
    let mut buys: Vec<Vec<Action>> = vec![Vec::new(); n];
    for c in &classes {
        for &i in &c.investors {
            buys[i].push(
                SharesAction::BuyShares {
                    machine_id: c.id,
                    amount: LOT,
                    max_price_per_share: Amount(c.price),
                }
                .into(),
            );
        }
    }
    let mut txs = Vec::new();
    for (k, actions) in investors.iter().zip(buys) {
        for chunk in actions.chunks(64) {
            txs.push(sim.tx(k, k.address(), None, chunk.to_vec()));
        }
    }
    sim.include(txs, t)?;
    Ok(SharesSim { investors, classes })
}

fn micro(v: &Value) -> u128 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Traces investor 0's largest accrual from an energy sale to its revenue event, the order it
/// settled and the machine's metered export in that interval. Read before the claims, which
/// start a position's accruals afresh.
fn audit_trail(sim: &Sim, ss: &SharesSim) -> anyhow::Result<Value> {
    let who = ss.investors[0].address();
    let mut best: Option<(u64, Value)> = None;
    for c in ss.classes.iter().filter(|c| c.investors.contains(&0)) {
        let v = sim.client.get(&format!(
            "/v1/shares/holder/{who}/accruals?machine={}",
            c.id
        ))?;
        for a in v["accruals"].as_array().into_iter().flatten() {
            let better = best
                .as_ref()
                .is_none_or(|(_, b)| micro(&a["amount"]) > micro(&b["amount"]));
            if a["source"]["kind"] == "energy" && better {
                best = Some((c.id, a.clone()));
            }
        }
    }
    let Some((id, a)) = best else {
        return Ok(Value::Null);
    };
    let seq = a["seq"].as_u64().context("seq")?;
    let rev = sim
        .client
        .get(&format!("/v1/shares/revenue/{id}?from_seq={seq}"))?;
    let event = rev["events"][0].clone();
    let s = &a["source"];
    let (zone, start) = (
        s["zone"].as_str().context("zone")?,
        s["interval_start_ms"].as_u64().context("interval")?,
    );
    let order = sim.client.get(&format!(
        "/v1/energy/zone/{zone}/order/{}",
        s["order_id"].as_u64().context("order")?
    ))?;
    let step = machina_sim::INTERVAL_MIN * 60_000;
    let metered = sim.client.get(&format!(
        "/v1/meter/{id}/energy?from_ms={start}&to_ms={}",
        start + step
    ))?;
    let balance = u128::from(a["balance"].as_u64().context("balance")?);
    let exact = micro(&event["to_holders"]) * balance / u128::from(SUPPLY);
    let payout = micro(&a["amount"]);
    let traced = order["metered_wh"] == s["metered_wh"]
        && metered["export_wh"]
            .as_u64()
            .context("export")?
            .min(order["fill_wh"].as_u64().unwrap_or(0))
            == s["metered_wh"].as_u64().unwrap_or(u64::MAX)
        && micro(&order["amount"]) - micro(&order["fee"]) == micro(&event["amount"])
        && exact.abs_diff(payout) <= 1;
    Ok(json!({
        "investor": who,
        "machine_id": id,
        "payout_micro": a["amount"],
        "shares": balance,
        "supply": SUPPLY,
        "revenue_event": event,
        "order": {
            "order_id": order["order_id"], "side": order["side"], "price": order["price"],
            "fill_wh": order["fill_wh"], "metered_wh": order["metered_wh"],
            "gross_micro": order["amount"], "market_fee_micro": order["fee"],
        },
        "meter": {"from_ms": start, "to_ms": start + step, "export_wh": metered["export_wh"], "import_wh": metered["import_wh"]},
        "traced": traced,
    }))
}

/// Traces one payout, has every investor claim all its holdings, and reports each machine's
/// revenue and each investor's payout and yield over the day. The bool: every micro-unit to
/// holders was claimed or is in the pool, and the trail holds.
pub fn finish(sim: &mut Sim, ss: &SharesSim, t: &mut u64) -> anyhow::Result<(Value, bool)> {
    let trail = audit_trail(sim, ss)?;
    let txs: Vec<_> = ss
        .investors
        .iter()
        .map(|k| {
            let action = SharesAction::ClaimRevenue { machine_id: None }.into();
            sim.tx(k, k.address(), None, vec![action])
        })
        .collect();
    // An investor whose machines earned nothing is refused (nothing_to_claim): still included.
    sim.include(txs.clone(), t)?;
    let mut machines = Vec::new();
    let (mut to_holders, mut claimed, mut fees, mut revenue) = (0u128, 0u128, 0u128, 0u128);
    for c in &ss.classes {
        let v = sim.client.get(&format!("/v1/shares/machine/{}", c.id))?;
        to_holders += micro(&v["to_holders_total"]);
        claimed += micro(&v["claimed_total"]);
        fees += micro(&v["fees_total"]);
        revenue += micro(&v["revenue_total"]);
        machines.push(json!({
            "machine_id": c.id,
            "kind": format!("{:?}", sim.community.machines[c.machine].device).to_lowercase(),
            "holders": v["holders"],
            "price_per_share_micro": c.price.to_string(),
            "revenue_micro": v["revenue_total"],
            "operator_fees_micro": v["fees_total"],
            "to_holders_micro": v["to_holders_total"],
            "claimed_micro": v["claimed_total"],
        }));
    }
    let mut investors = Vec::new();
    for (i, k) in ss.investors.iter().enumerate() {
        let paid: u128 = ss
            .classes
            .iter()
            .filter(|c| c.investors.contains(&i))
            .map(|c| c.price * u128::from(LOT))
            .sum();
        let got = claimed_in(sim, &txs[i])?;
        let day = if paid == 0 {
            0.0
        } else {
            got as f64 / paid as f64
        };
        investors.push(json!({
            "investor": k.address(),
            "machines": ss.classes.iter().filter(|c| c.investors.contains(&i)).count(),
            "invested_micro": paid.to_string(),
            "payout_micro": got.to_string(),
            "yield_day": day,
            "yield_annualised": day * 365.0,
        }));
    }
    let pool = micro(
        &sim.client
            .get(&format!("/v1/account/{}", machina_shares::pool_address()))?["balance"],
    );
    let ok = claimed + pool == to_holders && trail["traced"] != false;
    if to_holders > 0 && claimed == 0 {
        bail!("no investor was paid");
    }
    Ok((
        json!({
            "machines_with_shares": ss.classes.len(),
            "investors": investors,
            "revenue_micro": revenue.to_string(),
            "operator_fees_micro": fees.to_string(),
            "to_holders_micro": to_holders.to_string(),
            "claimed_micro": claimed.to_string(),
            "pool_micro": pool.to_string(),
            "machines": machines,
            "audit_trail": trail,
        }),
        ok,
    ))
}

/// What a claim transaction paid: the sum of its `claimed` events (0 when it was refused
/// because nothing had accrued).
fn claimed_in(sim: &Sim, tx: &machina_stf::Transaction) -> anyhow::Result<u128> {
    let v = sim.client.get(&format!("/v1/tx/{}", tx.hash()))?;
    Ok(v["receipt"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["module"] == "shares" && e["kind"] == "claimed")
        .map(|e| micro(&e["attrs"]["amount"]))
        .sum())
}

//! Machina demo (`machina demo`): a simulated energy community on an embedded dev chain (or any node with a
//! simulated clock), through the real API with real signatures, then a report and charts.

mod charts;
mod compute;
mod report;
mod serve;
mod shares;

use anyhow::{bail, Context};
use clap::Args;
use machina_bank::BankAction;
use machina_client::Client;
use machina_energy::EnergyAction;
use machina_energy::{MarketRule, Side, ZoneConfig};
use machina_gateway::Gateway;
use machina_identity::IdentityAction;
use machina_identity::{device_pop_message, MachineKind, MachineMetadata, MachineRegistration};
use machina_oracle::MeterReading;
use machina_stf::{Action, Transaction, TxBody};
use machina_wallet::SpendPolicy;
use machina_wallet::WalletAction;

use machina_primitives::codec::put_vec;
use machina_primitives::{sha256, Address, Amount, Keypair, DEV_CHAIN_ID};
use machina_sim::rng::Rng;
use machina_sim::{simulate, Community, Device, Options, INTERVAL_MIN};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Options of `machina demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Households in the community.
    #[arg(long, default_value_t = 100)]
    pub households: usize,
    /// Zones (neighbourhoods behind one transformer each).
    #[arg(long, default_value_t = 2)]
    pub zones: usize,
    /// Simulated hours.
    #[arg(long, default_value_t = 24)]
    pub hours: u64,
    /// Seed of the simulation and of every key.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write report.json, intervals.csv and PNG charts here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// GPU servers selling compute to the community's tenants overnight (0: none).
    #[arg(long, default_value_t = 4)]
    pub gpu_servers: usize,
    /// Drive this node (started with `machina dev --sim-clock`) instead of an embedded one.
    #[arg(long)]
    pub node: Option<String>,
    /// After the day, keep the chain and its HTTP API running, print the dashboard's URL and
    /// wait for Ctrl-C.
    #[arg(long)]
    pub serve: bool,
}

/// Simulated midnight of 2026-06-21 UTC, the default day: near the longest day, so PV matters.
const SIM_START_MS: u64 = 1_782_000_000_000;
const DAY_OF_YEAR: u32 = 172;
const LATITUDE_DEG: f64 = 48.1;
/// Tariffs of both zones, micro-units per kWh.
pub const RETAIL: u64 = 300_000;
/// Feed-in tariff, micro-units per kWh.
pub const FEED_IN: u64 = 80_000;
const INTERVAL_MS: u64 = INTERVAL_MIN * 60_000;
const FEE: Amount = machina_stf::params::DEFAULT_MIN_FEE;

fn key(seed: u64, what: &str, i: usize) -> Keypair {
    Keypair::from_seed(
        sha256(&[
            b"machina/demo/",
            what.as_bytes(),
            &seed.to_be_bytes(),
            &(i as u64).to_be_bytes(),
        ])
        .0,
    )
}

fn zone_name(z: usize) -> String {
    format!("zone-{}", z + 1)
}

/// A machine as the chain knows it.
pub struct Registered {
    /// Its chain id.
    pub id: u64,
    /// Its account.
    pub address: Address,
    /// Its device key.
    pub key: Keypair,
    /// Cumulative counters.
    pub import_wh: u64,
    /// Cumulative counters.
    pub export_wh: u64,
}

/// A running simulation against one node.
pub struct Sim {
    /// The node.
    pub client: Client,
    /// The physics.
    pub community: Community,
    /// Machines, in the community's order.
    pub machines: Vec<Registered>,
    /// Pays the devices' fees.
    pub sponsor: Keypair,
    /// The first simulated midnight.
    pub start_ms: u64,
    seed: u64,
    nonces: std::collections::BTreeMap<Address, u64>,
    /// Transactions sent.
    pub transactions: u64,
    /// Chain time of the last block.
    pub now_ms: u64,
    /// Height of the last block: transactions expire a bounded number of blocks after it.
    height: u64,
    /// What the demo's accounts held before it started: they must hold it still at the end.
    pub known_total_at_start: u128,
}

/// The address of household `h`'s owner.
pub fn owner_address(sim: &Sim, h: usize) -> Address {
    key(sim.seed, "owner", h).address()
}

/// The address of the demo's gateway.
pub fn gateway_address(sim: &Sim) -> Address {
    key(sim.seed, "gateway", 0).address()
}

impl Sim {
    fn nonce(&mut self, a: Address) -> u64 {
        let n = self.nonces.entry(a).or_insert(0);
        *n += 1;
        *n - 1
    }

    fn tx(
        &mut self,
        signer: &Keypair,
        sender: Address,
        fee_payer: Option<Address>,
        actions: Vec<Action>,
    ) -> Transaction {
        let nonce = self.nonce(sender);
        TxBody {
            chain_id: DEV_CHAIN_ID,
            sender,
            nonce,
            fee: FEE,
            expiry_height: self.height + 1_000,
            fee_payer,
            actions,
        }
        .sign(&[signer])
    }

    /// Submits transactions as one batch; all must be admitted.
    fn submit(&mut self, txs: &[Transaction]) -> anyhow::Result<()> {
        for chunk in txs.chunks(5_000) {
            let mut body = Vec::new();
            put_vec(&mut body, chunk);
            let v = self.client.post_bytes("/v1/txs", &body)?;
            if v["accepted"].as_u64() != Some(chunk.len() as u64) {
                let first = v["results"]
                    .as_array()
                    .and_then(|r| r.iter().find(|x| x.get("code").is_some()).cloned());
                bail!(
                    "the node refused demo transactions: {}",
                    first.unwrap_or_default()
                );
            }
        }
        self.transactions += txs.len() as u64;
        Ok(())
    }

    /// Produces a block at chain time `t` (the node must run a simulated clock).
    fn advance(&mut self, t: u64) -> anyhow::Result<u64> {
        let body = serde_json::to_vec(&json!({"timestamp_ms": t}))?;
        let v = self
            .client
            .post_json("/v1/dev/advance", &body)
            .context("the node has no simulated clock: start it with `machina dev --sim-clock`")?;
        self.now_ms = t;
        self.height = v["height"].as_u64().unwrap_or(self.height);
        Ok(v["tx_count"].as_u64().unwrap_or(0))
    }

    /// Submits and includes transactions in blocks at `t`, `t+1`, ... until all are in.
    fn include(&mut self, txs: Vec<Transaction>, t: &mut u64) -> anyhow::Result<()> {
        let want = txs.len() as u64;
        self.submit(&txs)?;
        let mut got = 0;
        while got < want {
            let n = self.advance(*t)?;
            *t += 1;
            if n == 0 {
                bail!(
                    "{} of {want} demo transactions were never included",
                    want - got
                );
            }
            got += n;
        }
        Ok(())
    }
}

/// Sets up accounts, zones, machines, policies and sponsorship through ordinary transactions.
fn setup(
    client: Client,
    community: Community,
    seed: u64,
    start_ms: u64,
    zones: usize,
) -> anyhow::Result<Sim> {
    let alice = Keypair::dev("alice");
    let sponsor = key(seed, "sponsor", 0);
    let owners: Vec<Keypair> = (0..community.households)
        .map(|h| key(seed, "owner", h))
        .collect();
    let mut sim = Sim {
        client,
        machines: Vec::new(),
        sponsor: sponsor.clone(),
        start_ms,
        seed,
        nonces: Default::default(),
        transactions: 0,
        now_ms: start_ms - 3_600_000,
        community,
        known_total_at_start: 0,
        height: 0,
    };
    sim.height = sim.client.get("/v1/health")?["height"]
        .as_u64()
        .unwrap_or(0);
    let mut known = vec![
        alice.address(),
        machina_node::dev_proposer().address(),
        sponsor.address(),
        key(seed, "gateway", 0).address(),
    ];
    known.extend(owners.iter().map(Keypair::address));
    for a in known {
        let b: u128 = sim.client.get(&format!("/v1/account/{a}"))?["balance"]
            .as_str()
            .unwrap_or("0")
            .parse()?;
        sim.known_total_at_start += b;
    }
    let nonce = sim
        .client
        .get(&format!("/v1/account/{}", alice.address()))?["nonce"]
        .as_u64()
        .unwrap_or(0);
    sim.nonces.insert(alice.address(), nonce);
    let mut t = start_ms - 3_600_000;
    // Alice funds the owners and the sponsor, and creates the zones.
    let mut funding: Vec<Action> = owners
        .iter()
        .map(|o| {
            BankAction::Transfer {
                to: o.address(),
                amount: Amount(100_000_000),
            }
            .into()
        })
        .collect();
    funding.push(
        BankAction::Transfer {
            to: sponsor.address(),
            amount: Amount(100_000_000_000),
        }
        .into(),
    );
    let mut txs = Vec::new();
    for chunk in funding.chunks(64) {
        txs.push(sim.tx(&alice, alice.address(), None, chunk.to_vec()));
    }
    for z in 0..zones {
        let config = ZoneConfig {
            name: zone_name(z),
            interval_ms: INTERVAL_MS,
            gate_closure_ms: 60_000,
            retail_price: RETAIL,
            feed_in_price: FEED_IN,
            market_fee_bps: 50,
            rule: MarketRule::PayAsClear { k_ppm: 500_000 },
            import_limit_w: 400_000,
            export_limit_w: 150_000,
            settlement_deadline_ms: 600_000,
        };
        txs.push(sim.tx(
            &alice,
            alice.address(),
            None,
            vec![EnergyAction::CreateZone {
                config: Box::new(config),
                grid_float: Amount(50_000_000_000),
            }.into()],
        ));
    }
    sim.include(txs, &mut t)?;
    // Each owner registers its household's machines, each proving possession of its key.
    let mut txs = Vec::new();
    let device_keys: Vec<Keypair> = (0..sim.community.machines.len())
        .map(|m| key(seed, "device", m))
        .collect();
    for (h, owner) in owners.iter().enumerate() {
        let zone = zone_name(sim.community.zone_of[h]);
        let actions: Vec<Action> = sim
            .community
            .machines
            .iter()
            .enumerate()
            .filter(|(_, m)| m.household == h)
            .map(|(i, m)| {
                let d = &device_keys[i];
                IdentityAction::RegisterMachine(Box::new(MachineRegistration {
                    device_key: d.public(),
                    device_signature: d.sign(&device_pop_message(DEV_CHAIN_ID, &owner.address())),
                    kind: match m.device {
                        Device::Meter => MachineKind::Meter,
                        Device::Solar => MachineKind::Solar,
                        Device::Battery => MachineKind::Battery,
                        Device::EvCharger => MachineKind::EvCharger,
                    },
                    rated_power_w: m.rated_power_w,
                    capacity_wh: m.capacity_wh,
                    zone: Some(zone.clone()),
                    metadata: MachineMetadata {
                        manufacturer: "demo".into(),
                        model: format!("{:?}", m.device),
                        serial: format!("{h}-{i}"),
                        extra: vec![],
                    },
                    attestation: None,
                }))
                .into()
            })
            .collect();
        txs.push(sim.tx(owner, owner.address(), None, actions));
    }
    sim.include(txs, &mut t)?;
    // Look the machines up by device key: ids follow block order, not submission order.
    let mut by_key = std::collections::BTreeMap::new();
    for owner in &owners {
        let v = sim
            .client
            .get(&format!("/v1/machines?owner={}&limit=100", owner.address()))?;
        for m in v["machines"].as_array().into_iter().flatten() {
            let k = m["device_key"].as_str().context("device key")?.to_owned();
            let id = m["machine_id"].as_u64().context("id")?;
            let addr = m["address"]
                .as_str()
                .and_then(Address::from_hex)
                .context("address")?;
            by_key.insert(k, (id, addr));
        }
    }
    for (i, d) in device_keys.into_iter().enumerate() {
        let pk = format!("0x{}", hex::encode(d.public().0));
        let (id, address) = *by_key
            .get(&pk)
            .with_context(|| format!("machine {i} was not registered"))?;
        sim.machines.push(Registered {
            id,
            address,
            key: d,
            import_wh: 1_000_000,
            export_wh: 1_000_000,
        });
    }
    // Owners fund their machines' escrow and set each a policy: only the zone's escrow may be
    // paid, at most 50 tokens a transaction and 500 a day. The sponsor pays the devices' fees.
    let mut txs = Vec::new();
    for (h, owner) in owners.iter().enumerate() {
        let escrow = machina_energy::market::escrow_address(&zone_name(sim.community.zone_of[h]));
        let mut actions = Vec::new();
        for (i, m) in sim.machines.iter().enumerate() {
            if sim.community.machines[i].household != h {
                continue;
            }
            actions.push(
                BankAction::Transfer {
                    to: m.address,
                    amount: Amount(20_000_000),
                }
                .into(),
            );
            let policy = SpendPolicy {
                max_per_tx: Some(Amount(50_000_000)),
                max_per_window: Some(Amount(500_000_000)),
                window_blocks: 10_000,
                allowlist: vec![escrow],
                ..SpendPolicy::default()
            };
            actions.push(
                WalletAction::SetSpendPolicy {
                    machine_id: m.id,
                    policy,
                }
                .into(),
            );
        }
        txs.push(sim.tx(owner, owner.address(), None, actions));
    }
    let grants: Vec<Action> = sim
        .machines
        .iter()
        .map(|m| {
            WalletAction::GrantFeeAllowance {
                grantee: m.address,
                cap: Amount(1_000_000_000),
                expiry_height: u64::MAX,
            }
            .into()
        })
        .collect();
    for chunk in grants.chunks(64) {
        let tx = sim.tx(&sponsor, sponsor.address(), None, chunk.to_vec());
        txs.push(tx);
    }
    sim.include(txs, &mut t)?;
    Ok(sim)
}

/// A machine's order for interval `i`, if it has energy to trade: a simple strategy between
/// feed-in and retail.
fn order_for(sim: &Sim, m: usize, i: usize, rng: &mut Rng) -> Option<(Side, u64, u64)> {
    let sm = &sim.community.machines[m];
    let spread = (RETAIL - FEED_IN) as f64;
    let mut forecast = |x: u64| (x as f64 * rng.range(0.9, 1.1)) as u64;
    let (imp, exp) = (sm.import_wh[i], sm.export_wh[i]);
    let (side, qty, lo, hi) = if exp > imp {
        let (lo, hi) = if sm.device == Device::Battery {
            (0.5, 0.8)
        } else {
            (0.1, 0.5)
        };
        (Side::Ask, forecast(exp), lo, hi)
    } else {
        let (lo, hi) = match sm.device {
            Device::Battery => (0.2, 0.5),
            Device::EvCharger => (0.3, 0.9),
            _ => (0.5, 0.95),
        };
        (Side::Bid, forecast(imp), lo, hi)
    };
    let price = FEED_IN + (spread * rng.range(lo, hi)) as u64;
    (qty >= 10).then_some((side, price, qty))
}

/// Runs the day: readings through the gateway, orders, blocks on the simulated clock.
fn run_day(
    sim: &mut Sim,
    cs: &mut crate::compute::ComputeSim,
    gateway: &str,
    json: bool,
) -> anyhow::Result<()> {
    let gw = Client::new(gateway);
    let mut rng = Rng::new(sim.seed ^ 0xD3A0);
    let steps = sim.community.intervals;
    let started = Instant::now();
    for k in 0..=steps {
        let t = sim.start_ms + k as u64 * INTERVAL_MS;
        // Each device signs its cumulative counters at the boundary and posts them.
        let mut readings = Vec::with_capacity(sim.machines.len());
        for (m, reg) in sim.machines.iter_mut().enumerate() {
            if k > 0 {
                reg.import_wh += sim.community.machines[m].import_wh[k - 1];
                reg.export_wh += sim.community.machines[m].export_wh[k - 1];
            }
            let r = MeterReading {
                machine_id: reg.id,
                channel: 0,
                seq: k as u64 + 1,
                timestamp_ms: t,
                import_wh: reg.import_wh,
                export_wh: reg.export_wh,
            };
            readings.push(r.sign(DEV_CHAIN_ID, &reg.key));
        }
        gw.post_json("/v1/readings", &serde_json::to_vec(&readings)?)?;
        let flushed = gw.post_json("/v1/flush", b"{}")?;
        sim.transactions += flushed["txs"].as_array().map_or(0, |v| v.len() as u64);
        // The GPU servers' acknowledgements and heartbeats (the tenants' jobs at the start).
        let mut txs = crate::compute::step(sim, cs, k)?;
        // Orders for the next interval, signed by each device, fees paid by the sponsor.
        if k + 1 < steps {
            for m in 0..sim.machines.len() {
                if let Some((side, price, qty)) = order_for(sim, m, k + 1, &mut rng) {
                    let reg = &sim.machines[m];
                    let action = EnergyAction::PlaceOrder {
                        machine_id: reg.id,
                        side,
                        interval_start_ms: t + INTERVAL_MS,
                        price,
                        qty_wh: qty,
                    }
                    .into();
                    let (signer, sender, sponsor) =
                        (reg.key.clone(), reg.address, sim.sponsor.address());
                    txs.push(sim.tx(&signer, sender, Some(sponsor), vec![action]));
                }
            }
        }
        sim.submit(&txs)?;
        sim.advance(t + 1_000)?;
        progress(k, steps, sim.transactions, started, json);
    }
    // One more block after the settlement deadline settles anything still waiting.
    sim.advance(sim.start_ms + steps as u64 * INTERVAL_MS + 600_001)?;
    if !json {
        eprintln!();
    }
    Ok(())
}

fn progress(k: usize, steps: usize, txs: u64, started: Instant, json: bool) {
    if json {
        return;
    }
    let done = k as f64 / steps.max(1) as f64;
    let width = 30;
    let bar: String = (0..width)
        .map(|i| {
            if (i as f64) < done * width as f64 {
                '#'
            } else {
                '.'
            }
        })
        .collect();
    let hours = k as f64 * INTERVAL_MIN as f64 / 60.0;
    let rate = txs as f64 / started.elapsed().as_secs_f64().max(1e-3);
    eprint!("\r  simulated {hours:>5.1} h [{bar}] {txs} transactions, {rate:.0} tx/s   ");
    let _ = std::io::stderr().flush();
}

/// Runs `machina demo`.
pub fn run(args: DemoArgs, json: bool) -> anyhow::Result<()> {
    let community = simulate(&Options {
        households: args.households.max(1),
        zones: args.zones.clamp(1, 8),
        hours: args.hours.clamp(1, 24 * 7),
        seed: args.seed,
        day_of_year: DAY_OF_YEAR,
        latitude_deg: LATITUDE_DEG,
    });
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let (url, node) = match &args.node {
        Some(url) => (url.clone(), None),
        None => {
            let node = rt.block_on(machina_node::start(machina_node::DevConfig {
                data_dir: dir.path().to_owned(),
                http: "127.0.0.1:0".parse()?,
                block_time: std::time::Duration::from_millis(1),
                idle_block: None,
                sim_clock: true,
                extra_genesis: Vec::new(),
                chain_id: machina_primitives::DEV_CHAIN_ID,
                load_state: None,
                genesis: None,
                http_limits: Default::default(),
                eth_rpc: None,
            }))?;
            (format!("http://{}", node.addr), Some(node))
        }
    };
    let client = Client::new(&url);
    let head = client.get("/v1/block/latest")?["timestamp_ms"]
        .as_u64()
        .unwrap_or(0);
    // A fresh chain starts at the fixed day; a used one at the next midnight after its head.
    let day = 24 * 3_600_000;
    let start_ms = SIM_START_MS.max((head + 2 * 3_600_000).div_ceil(day) * day);
    if !json {
        eprintln!(
            "machina demo: {} households, {} machines, {} zones, {} h from {} (node {url})",
            community.households,
            community.machines.len(),
            args.zones,
            args.hours,
            start_ms
        );
    }
    let sim_started = Instant::now();
    let mut sim = setup(
        client,
        community,
        args.seed,
        start_ms,
        args.zones.clamp(1, 8),
    )?;
    let gateway_key = key(args.seed, "gateway", 0);
    // The gateway's fees are sponsored like the devices'.
    let grant = sim.tx(
        &sim.sponsor.clone(),
        sim.sponsor.address(),
        None,
        vec![WalletAction::GrantFeeAllowance {
            grantee: gateway_key.address(),
            cap: Amount(1_000_000_000),
            expiry_height: u64::MAX,
        }
        .into()],
    );
    let mut t = sim.now_ms + 1;
    sim.include(vec![grant], &mut t)?;
    let mut cs = crate::compute::setup(&mut sim, args.gpu_servers, &mut t)?;
    let ss = crate::shares::setup(&mut sim, &mut t)?;
    let gw = Arc::new(Gateway::new(
        &url,
        gateway_key,
        Some(sim.sponsor.address()),
        machina_primitives::limits::MAX_READINGS_PER_TX,
    ));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let gw_url = format!("http://{}", listener.local_addr()?);
    let router = gw.router();
    rt.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    run_day(&mut sim, &mut cs, &gw_url, json)?;
    let mut t = sim.now_ms + 1;
    let investors = crate::shares::finish(&mut sim, &ss, &mut t)?;
    let report = crate::report::build(&sim, &cs, &ss, investors, sim_started.elapsed())?;
    crate::report::print(&report, json);
    if let Some(out) = &args.out {
        crate::report::write(&report, &sim, out)?;
    }
    if args.serve {
        crate::serve::wait(&rt, &url, json)?;
    }
    if let Some(node) = node {
        rt.block_on(node.shutdown());
    }
    if report["integrity_ok"] != true {
        bail!("integrity check failed");
    }
    Ok(())
}

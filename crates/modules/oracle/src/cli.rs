//! The oracle's `machina tx` and `machina query` subcommands.
//!
//! A meter reading is signed by the machine's device key (`--from`); the transaction carrying
//! it is sent as the machine's account, or by any `--payer` (a gateway, the owner).

use crate::action::OracleAction;
use crate::routes::{EnergyView, FeedView, MeterView};
use anyhow::Context;
use clap::Subcommand;
use machina_module_cli::{attr_text, event_attr, now_ms, NodeError, QueryHost, TxHost};
use machina_primitives::{Address, Amount};
use serde_json::Value;

/// `machina tx meter|feed ...`.
#[derive(Subcommand)]
pub enum OracleTx {
    /// Device-signed meter readings.
    #[command(subcommand)]
    Meter(MeterCmd),
    /// Data feeds from bonded reporters.
    #[command(subcommand)]
    Feed(FeedCmd),
}

/// `machina query meter` and `machina query feed`.
#[derive(Subcommand)]
pub enum OracleQuery {
    /// A machine's latest accepted meter reading, or its energy over a span.
    Meter {
        /// Machine id.
        id: u64,
        /// Meter channel.
        #[arg(long, default_value_t = 0)]
        channel: u16,
        /// Start of the span, ms.
        #[arg(long, requires = "to_ms")]
        from_ms: Option<u64>,
        /// End of the span, ms.
        #[arg(long, requires = "from_ms")]
        to_ms: Option<u64>,
    },
    /// A data feed: value, round, staleness, reporters' bonds.
    Feed {
        /// Feed name.
        name: String,
    },
}

/// Runs an oracle `tx` subcommand.
pub fn run_tx(host: &impl TxHost<OracleAction>, cmd: OracleTx) -> anyhow::Result<()> {
    match cmd {
        OracleTx::Meter(c) => run_meter(host, c),
        OracleTx::Feed(c) => run_feed(host, c),
    }
}

/// Runs an oracle `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: OracleQuery) -> anyhow::Result<()> {
    match cmd {
        OracleQuery::Meter {
            id,
            channel,
            from_ms,
            to_ms,
        } => {
            if let (Some(a), Some(b)) = (from_ms, to_ms) {
                let (e, v): (EnergyView, _) = host.get_as(&format!(
                    "/v1/meter/{id}/energy?channel={channel}&from_ms={a}&to_ms={b}"
                ))?;
                host.print(&v, &|| {
                    format!(
                        "machine {id} from {a} to {b} ms: imported {} Wh, exported {} Wh",
                        e.import_wh, e.export_wh
                    )
                });
            } else {
                let (m, v): (MeterView, _) =
                    host.get_as(&format!("/v1/meter/{id}?channel={channel}"))?;
                host.print(&v, &|| {
                    format!(
                        "machine {id} channel {channel}: seq {} at {} ms, import {} Wh, export {} Wh",
                        m.seq, m.timestamp_ms, m.import_wh, m.export_wh
                    )
                });
            }
        }
        OracleQuery::Feed { name } => {
            let (f, v): (FeedView, _) = host.get_as(&format!("/v1/feed/{name}"))?;
            host.print(&v, &|| {
                format!(
                    "{name} = {}{}  (open round {}, updated {} ms)",
                    f.value.map_or_else(|| "none".to_owned(), |x| x.to_string()),
                    if f.stale { "  STALE" } else { "" },
                    f.open_round,
                    f.updated_ms
                )
            });
        }
    }
    Ok(())
}

/// `machina tx meter ...`.
#[derive(Subcommand)]
pub enum MeterCmd {
    /// Sign a reading with the device key and submit it.
    Reading {
        /// Key name of the device key, which signs the reading (and, without `--payer`, the
        /// transaction, sent as the machine's account).
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Meter channel.
        #[arg(long, default_value_t = 0)]
        channel: u16,
        /// Sequence number (strictly increasing).
        #[arg(long)]
        seq: u64,
        /// Cumulative import, Wh.
        #[arg(long)]
        import_wh: u64,
        /// Cumulative export, Wh.
        #[arg(long)]
        export_wh: u64,
        /// Measurement time (default: now).
        #[arg(long)]
        timestamp_ms: Option<u64>,
        /// Key name of another account that submits the reading and pays the fee (default:
        /// the machine's own account; `--fee-payer` names a sponsor instead).
        #[arg(long)]
        payer: Option<String>,
    },
}

/// `machina tx feed ...`.
#[derive(Subcommand)]
pub enum FeedCmd {
    /// Create a feed with its reporters and rules.
    Create {
        /// Key name of the creator (pays the fee).
        #[arg(long)]
        from: String,
        /// Feed name, e.g. grid.retail_price.zone-a.
        #[arg(long)]
        name: String,
        /// Reporters: addresses or key names (repeatable).
        #[arg(long = "reporter", required = true)]
        reporters: Vec<String>,
        /// Stake each reporter must bond for the feed (`tx stake bond --role reporter`), micro-units.
        #[arg(long)]
        bond: Amount,
        /// Reports needed to set a value.
        #[arg(long)]
        quorum: u16,
        /// Reports needed to move the value past `--max-change-bps` (default: all reporters).
        #[arg(long)]
        super_quorum: Option<u16>,
        /// Most a round may move the value, basis points.
        #[arg(long, default_value_t = 1000)]
        max_change_bps: u32,
        /// The value is stale after this long without a round.
        #[arg(long, default_value_t = 3_600_000)]
        stale_after_ms: u64,
    },
    /// Sign and submit a value for a round.
    Report {
        /// Key name of the reporter.
        #[arg(long)]
        from: String,
        /// Feed name.
        #[arg(long)]
        name: String,
        /// Round (default: the open round).
        #[arg(long)]
        round: Option<u64>,
        /// The value.
        #[arg(long, allow_hyphen_values = true)]
        value: i64,
    },
    /// Sign a value for a round and print the signed report, without submitting it.
    SignReport {
        /// Key name of the reporter.
        #[arg(long)]
        from: String,
        /// Feed name.
        #[arg(long)]
        name: String,
        /// Round.
        #[arg(long)]
        round: u64,
        /// The value.
        #[arg(long, allow_hyphen_values = true)]
        value: i64,
    },
    /// Prove that a reporter signed two values for one round; its bond is forfeited, half to you.
    ProveEquivocation {
        /// Key name of the prover.
        #[arg(long)]
        from: String,
        /// Two signed report files (JSON, as `sign-report` prints them).
        #[arg(long = "report", num_args = 2, required = true)]
        reports: Vec<std::path::PathBuf>,
    },
}

/// Fails with the code of the first item a batch action refused (readings, reports).
fn fail_on_rejection(rec: &Value) -> anyhow::Result<()> {
    if let (Some(code), Some(message)) = (
        attr_text(event_attr(rec, "rejected", "code")),
        attr_text(event_attr(rec, "rejected", "message")),
    ) {
        return Err(NodeError { code, message }.into());
    }
    Ok(())
}

fn run_meter(host: &impl TxHost<OracleAction>, cmd: MeterCmd) -> anyhow::Result<()> {
    let MeterCmd::Reading {
        from,
        machine,
        channel,
        seq,
        import_wh,
        export_wh,
        timestamp_ms,
        payer,
    } = cmd;
    let chain_id = host.chain_id()?;
    let dk = host.key(&from)?;
    let reading = crate::MeterReading {
        machine_id: machine,
        channel,
        seq,
        timestamp_ms: timestamp_ms.unwrap_or_else(now_ms),
        import_wh,
        export_wh,
    }
    .sign(chain_id, &dk);
    let action = OracleAction::SubmitReadings {
        readings: vec![reading],
    };
    let rec = match payer {
        Some(payer) => host.send_from(&payer, vec![action])?.1,
        None => host.send(&dk, host.machine_address(machine)?, vec![action])?,
    };
    host.print_receipt(&rec);
    fail_on_rejection(&rec)
}

fn run_feed(host: &impl TxHost<OracleAction>, cmd: FeedCmd) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        FeedCmd::Create {
            from,
            name,
            reporters,
            bond,
            quorum,
            super_quorum,
            max_change_bps,
            stale_after_ms,
        } => {
            let reporters: Vec<Address> = reporters
                .iter()
                .map(|r| host.address_of(r))
                .collect::<anyhow::Result<_>>()?;
            let config = crate::FeedConfig {
                name,
                super_quorum: super_quorum.unwrap_or(reporters.len() as u16),
                reporters,
                bond,
                quorum,
                max_change_bps,
                stale_after_ms,
            };
            (from, OracleAction::CreateFeed(Box::new(config)))
        }
        FeedCmd::Report {
            from,
            name,
            round,
            value,
        } => {
            let chain_id = host.chain_id()?;
            let round = match round {
                Some(r) => r,
                None => host.get(&format!("/v1/feed/{name}"))?["open_round"]
                    .as_u64()
                    .context("feed has an open round")?,
            };
            let report = crate::FeedReport::sign(chain_id, &name, round, value, &host.key(&from)?);
            let (_, rec) = host.send_from(
                &from,
                vec![OracleAction::ReportFeed {
                    reports: vec![report],
                }],
            )?;
            host.print_receipt(&rec);
            return fail_on_rejection(&rec);
        }
        FeedCmd::SignReport {
            from,
            name,
            round,
            value,
        } => {
            let chain_id = host.chain_id()?;
            let report = crate::FeedReport::sign(chain_id, &name, round, value, &host.key(&from)?);
            println!("{}", serde_json::to_string(&report)?);
            return Ok(());
        }
        FeedCmd::ProveEquivocation { from, reports } => {
            let read = |p: &std::path::PathBuf| -> anyhow::Result<crate::FeedReport> {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a signed report", p.display()))
            };
            (
                from,
                OracleAction::ProveEquivocation {
                    a: Box::new(read(&reports[0])?),
                    b: Box::new(read(&reports[1])?),
                },
            )
        }
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

//! `machina query`: read chain data from a node.

use crate::client::Client;
use crate::keystore::Keystore;
use crate::print;
use clap::{Args, Subcommand};

/// `machina query ...`.
#[derive(Args)]
pub struct QueryArgs {
    /// The node's HTTP API.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8645",
        env = "MACHINA_NODE"
    )]
    node: String,
    #[command(subcommand)]
    cmd: QueryCmd,
}

#[derive(Subcommand)]
enum QueryCmd {
    /// An account's balance and nonce.
    Account {
        /// Address or key name.
        address: String,
    },
    /// A block by height, hash or `latest`.
    Block {
        /// Height, block hash or `latest`.
        id: String,
    },
    /// A transaction and its receipt.
    Tx {
        /// Transaction hash.
        hash: String,
    },
    /// A machine: identity, status, account and reputation.
    Machine {
        /// Machine id.
        id: u64,
    },
    /// The machines of an owner, one page at a time.
    Machines {
        /// Owner: address or key name.
        #[arg(long)]
        owner: String,
        /// First position to list.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// How many (at most 100).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// A machine's wallet: policy, freeze, recent spending.
    Wallet {
        /// Machine id.
        machine: u64,
    },
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
    /// The energy market: zones, intervals, orders, a machine's trades.
    #[command(subcommand)]
    Energy(EnergyQuery),
    /// A fee allowance.
    Allowance {
        /// Sponsor: address or key name.
        #[arg(long)]
        sponsor: String,
        /// Grantee: address or key name.
        #[arg(long)]
        grantee: String,
    },
}

#[derive(Subcommand)]
enum EnergyQuery {
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
        #[arg(long)]
        zone: String,
        /// Interval start, ms.
        #[arg(long)]
        start: u64,
    },
    /// One order with its fill and settlement.
    Order {
        /// Zone name.
        #[arg(long)]
        zone: String,
        /// Order id.
        #[arg(long)]
        id: u64,
    },
    /// A machine's orders, fills and bills over a span.
    Trades {
        /// Machine id.
        #[arg(long)]
        machine: u64,
        /// Span start, ms.
        #[arg(long)]
        from_ms: u64,
        /// Span end, ms.
        #[arg(long)]
        to_ms: u64,
    },
}

/// Runs `machina query ...`.
pub fn run(args: QueryArgs, ks: &Keystore, json: bool) -> anyhow::Result<()> {
    let c = Client::new(&args.node);
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    match args.cmd {
        QueryCmd::Account { address } => {
            let addr = ks.address_of(&address)?;
            let v = c.get(&format!("/v1/account/{addr}"))?;
            print(json, &v, || {
                format!(
                    "{addr}  balance {} micro  nonce {}",
                    s(&v["balance"]),
                    v["nonce"]
                )
            });
        }
        QueryCmd::Block { id } => {
            let v = c.get(&format!("/v1/block/{id}"))?;
            print(json, &v, || {
                format!(
                    "block {}  {}\n  time {} ms  txs {}\n  state root {}",
                    v["height"],
                    s(&v["hash"]),
                    v["timestamp_ms"],
                    v["tx_count"],
                    s(&v["state_root"])
                )
            });
        }
        QueryCmd::Tx { hash } => {
            let v = c.get(&format!("/v1/tx/{hash}"))?;
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        QueryCmd::Machine { id } => {
            let v = c.get(&format!("/v1/machine/{id}"))?;
            print(json, &v, || {
                format!(
                    "machine {}  {}  {}\n  owner     {}\n  account   {}\n  device    {}\n  rated     {} W{}\n  zone      {}\n  reputation {}",
                    v["machine_id"], s(&v["kind"]), s(&v["status"]), s(&v["owner"]), s(&v["address"]),
                    s(&v["device_key"]), v["rated_power_w"],
                    v["capacity_wh"].as_u64().map(|c| format!(", {c} Wh")).unwrap_or_default(),
                    v["zone"].as_str().unwrap_or("-"), v["reputation"]
                )
            });
        }
        QueryCmd::Machines {
            owner,
            offset,
            limit,
        } => {
            let owner = ks.address_of(&owner)?;
            let v = c.get(&format!(
                "/v1/machines?owner={owner}&offset={offset}&limit={limit}"
            ))?;
            print(json, &v, || {
                let mut out = format!("{} machines of {owner}", v["total"]);
                for m in v["machines"].as_array().into_iter().flatten() {
                    out += &format!(
                        "\n  {:>6}  {:<10} {:<8} {}",
                        m["machine_id"],
                        s(&m["kind"]),
                        s(&m["status"]),
                        s(&m["address"])
                    );
                }
                out
            });
        }
        QueryCmd::Wallet { machine } => {
            let v = c.get(&format!("/v1/wallet/{machine}"))?;
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        QueryCmd::Meter {
            id,
            channel,
            from_ms,
            to_ms,
        } => {
            if let (Some(a), Some(b)) = (from_ms, to_ms) {
                let v = c.get(&format!(
                    "/v1/meter/{id}/energy?channel={channel}&from_ms={a}&to_ms={b}"
                ))?;
                print(json, &v, || {
                    format!(
                        "machine {id} from {a} to {b} ms: imported {} Wh, exported {} Wh",
                        v["import_wh"], v["export_wh"]
                    )
                });
            } else {
                let v = c.get(&format!("/v1/meter/{id}?channel={channel}"))?;
                print(json, &v, || {
                    format!("machine {id} channel {channel}: seq {} at {} ms, import {} Wh, export {} Wh", v["seq"], v["timestamp_ms"], v["import_wh"], v["export_wh"])
                });
            }
        }
        QueryCmd::Feed { name } => {
            let v = c.get(&format!("/v1/feed/{name}"))?;
            print(json, &v, || {
                format!(
                    "{name} = {}{}  (open round {}, updated {} ms)",
                    v["value"],
                    if v["stale"] == true { "  STALE" } else { "" },
                    v["open_round"],
                    v["updated_ms"]
                )
            });
        }
        QueryCmd::Energy(q) => {
            let path = match &q {
                EnergyQuery::Zones => "/v1/energy/zones".to_owned(),
                EnergyQuery::Zone { name } => format!("/v1/energy/zone/{name}"),
                EnergyQuery::Interval { zone, start } => {
                    format!("/v1/energy/zone/{zone}/interval/{start}")
                }
                EnergyQuery::Order { zone, id } => format!("/v1/energy/zone/{zone}/order/{id}"),
                EnergyQuery::Trades {
                    machine,
                    from_ms,
                    to_ms,
                } => {
                    format!("/v1/energy/machine/{machine}/orders?from_ms={from_ms}&to_ms={to_ms}")
                }
            };
            let v = c.get(&path)?;
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
        QueryCmd::Allowance { sponsor, grantee } => {
            let (sp, gr) = (ks.address_of(&sponsor)?, ks.address_of(&grantee)?);
            let v = c.get(&format!("/v1/allowance/{sp}/{gr}"))?;
            print(json, &v, || {
                format!(
                    "{} micro left until height {}",
                    s(&v["remaining"]),
                    v["expiry_height"]
                )
            });
        }
    }
    Ok(())
}

//! Machina command line: dev chain, transactions, queries, keys and benchmarks.

mod bench;
mod client;
mod keystore;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use client::{Client, NodeError};
use keystore::Keystore;
use machina_primitives::{Action, Address, Amount, TxBody};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How many blocks a transaction signed by the CLI stays valid.
const TX_EXPIRY_BLOCKS: u64 = 600;

/// How long the CLI waits for a receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser)]
#[command(
    name = "machina",
    version,
    about = "Machina: a settlement ledger for the machine economy"
)]
struct Cli {
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Keystore file (default: machina/keystore.json in the user's config directory).
    #[arg(long, global = true, env = "MACHINA_KEYSTORE")]
    keystore: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a single-validator dev chain with embedded storage and the HTTP API.
    Dev(DevArgs),
    /// Manage local keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Sign, submit and wait for a transaction.
    #[command(subcommand)]
    Tx(TxCmd),
    /// Read chain data from a node.
    #[command(subcommand)]
    Query(QueryCmd),
    /// Measure signature, execution, storage and end-to-end throughput on this machine.
    Bench(bench::BenchArgs),
}

#[derive(Args)]
struct DevArgs {
    /// Data directory (default: machina in the user's data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8645")]
    http: SocketAddr,
    /// A block is produced as soon as transactions wait, at most every this many ms.
    #[arg(long, default_value_t = 100)]
    block_time_ms: u64,
    /// Wipe the data directory first.
    #[arg(long)]
    reset: bool,
    /// Log as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Create a new random key.
    New {
        /// Its name.
        name: String,
    },
    /// List all keys, dev keys included.
    List,
    /// Show a key's address.
    Show {
        /// Its name.
        name: String,
    },
}

#[derive(Args)]
struct NodeArg {
    /// The node's HTTP API.
    #[arg(long, default_value = "http://127.0.0.1:8645", env = "MACHINA_NODE")]
    node: String,
}

#[derive(Subcommand)]
enum TxCmd {
    /// Transfer micro-units to an address.
    Transfer {
        /// Key name of the sender.
        #[arg(long)]
        from: String,
        /// Recipient: an address, or a key name.
        #[arg(long)]
        to: String,
        /// Micro-units to send.
        #[arg(long)]
        amount: Amount,
        /// Fee in micro-units.
        #[arg(long, default_value_t = machina_stf::params::DEFAULT_MIN_FEE.0)]
        fee: u128,
        #[command(flatten)]
        node: NodeArg,
    },
}

#[derive(Subcommand)]
enum QueryCmd {
    /// An account's balance and nonce.
    Account {
        /// Address or key name.
        address: String,
        #[command(flatten)]
        node: NodeArg,
    },
    /// A block by height, hash or `latest`.
    Block {
        /// Height, block hash or `latest`.
        id: String,
        #[command(flatten)]
        node: NodeArg,
    },
    /// A transaction and its receipt.
    Tx {
        /// Transaction hash.
        hash: String,
        #[command(flatten)]
        node: NodeArg,
    },
}

fn main() {
    let cli = Cli::parse();
    let json = cli.json;
    if let Err(e) = run(cli) {
        match e.downcast_ref::<NodeError>() {
            Some(n) if json => println!("{}", json!({"code": n.code, "message": n.message})),
            Some(n) => eprintln!("error: {n}"),
            None if json => println!(
                "{}",
                json!({"code": "cli_error", "message": format!("{e:#}")})
            ),
            None => eprintln!("error: {e:#}"),
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let keystore_path = cli.keystore.clone().unwrap_or_else(default_keystore);
    match cli.cmd {
        Cmd::Dev(args) => run_dev(args, cli.json),
        Cmd::Keys(k) => run_keys(k, &keystore_path, cli.json),
        Cmd::Tx(t) => run_tx(t, &keystore_path, cli.json),
        Cmd::Query(q) => run_query(q, &keystore_path, cli.json),
        Cmd::Bench(b) => {
            // The bench is quiet unless asked: RUST_LOG=info shows each block it commits.
            if std::env::var_os("RUST_LOG").is_some() {
                init_logs(false);
            }
            bench::run(b, cli.json)
        }
    }
}

fn home_dir(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn default_keystore() -> PathBuf {
    home_dir("XDG_CONFIG_HOME", ".config").join("machina/keystore.json")
}

fn default_data_dir() -> PathBuf {
    home_dir("XDG_DATA_HOME", ".local/share").join("machina")
}

fn print(json: bool, v: &Value, human: impl FnOnce() -> String) {
    if json {
        println!("{v}");
    } else {
        println!("{}", human());
    }
}

fn run_dev(args: DevArgs, json: bool) -> anyhow::Result<()> {
    init_logs(args.json_logs);
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    if args.reset && data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("wiping {}", data_dir.display()))?;
    }
    let config = machina_node::DevConfig {
        data_dir: data_dir.clone(),
        http: args.http,
        block_time: Duration::from_millis(args.block_time_ms.max(1)),
        extra_genesis: Vec::new(),
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let node = machina_node::start(config).await?;
        let accounts: Vec<Value> = machina_stf::DEV_ACCOUNTS
            .iter()
            .map(|n| {
                let k = machina_primitives::Keypair::dev(n);
                let bal = machina_bank::account(&node.chain.committed().state, &k.address()).balance;
                json!({"name": n, "address": k.address(), "balance": bal})
            })
            .collect();
        let info = json!({
            "chain_id": node.chain.chain_id(),
            "http": format!("http://{}", node.addr),
            "data_dir": data_dir,
            "height": node.chain.committed().head.height,
            "accounts": accounts,
        });
        print(json, &info, || {
            let mut s = format!(
                "Machina dev chain\n  chain id  {}\n  API       http://{}\n  data dir  {}\n  height    {}\n\nDev accounts (keys derived from the names; never use them on a real network):\n",
                info["chain_id"], node.addr, data_dir.display(), info["height"]
            );
            for a in &accounts {
                s += &format!("  {:<8} {}  {} micro\n", a["name"].as_str().unwrap_or(""), a["address"].as_str().unwrap_or(""), a["balance"].as_str().unwrap_or(""));
            }
            s
        });
        tokio::signal::ctrl_c().await?;
        tracing::info!("shutting down");
        node.shutdown().await;
        Ok(())
    })
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run_keys(cmd: KeysCmd, path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let mut ks = Keystore::open(path)?;
    match cmd {
        KeysCmd::New { name } => {
            ks.create(&name)?;
            let info = ks.show(&name)?;
            print(json, &serde_json::to_value(&info)?, || info.address.clone());
        }
        KeysCmd::Show { name } => {
            let info = ks.show(&name)?;
            print(json, &serde_json::to_value(&info)?, || info.address.clone());
        }
        KeysCmd::List => {
            let list = ks.list();
            print(json, &serde_json::to_value(&list)?, || {
                list.iter()
                    .map(|k| {
                        format!(
                            "{:<12} {}{}",
                            k.name,
                            k.address,
                            if k.dev { "  (dev)" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

/// An address, or the address of a key in the keystore.
fn resolve_address(s: &str, ks: &Keystore) -> anyhow::Result<Address> {
    match Address::from_hex(s) {
        Some(a) => Ok(a),
        None => Ok(ks
            .get(s)
            .context("not an address, nor a key name")?
            .address()),
    }
}

fn run_tx(cmd: TxCmd, path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let ks = Keystore::open(path)?;
    let TxCmd::Transfer {
        from,
        to,
        amount,
        fee,
        node,
    } = cmd;
    let key = ks.get(&from)?;
    let to = resolve_address(&to, &ks)?;
    let client = Client::new(&node.node);
    let health = client.get("/v1/health")?;
    let account = client.get(&format!("/v1/account/{}", key.address()))?;
    let tx = TxBody {
        chain_id: health["chain_id"].as_u64().context("health has chain_id")?,
        sender: key.address(),
        nonce: account["nonce"].as_u64().context("account has nonce")?,
        fee: Amount(fee),
        expiry_height: health["height"].as_u64().context("health has height")? + TX_EXPIRY_BLOCKS,
        actions: vec![Action::Transfer { to, amount }],
    }
    .sign(&[&key]);
    let hash = client.submit(&tx)?;
    let rec = client.wait_for_tx(&hash, RECEIPT_TIMEOUT)?;
    let receipt = &rec["receipt"];
    print(json, &rec, || {
        format!(
            "tx {hash}\n  height {}  fee {} micro  {}",
            rec["height"],
            receipt["fee_charged"].as_str().unwrap_or("?"),
            if receipt["success"] == true {
                "success"
            } else {
                "failed"
            }
        )
    });
    if receipt["success"] != true {
        return Err(NodeError {
            code: receipt["error"]["code"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned(),
            message: receipt["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        }
        .into());
    }
    Ok(())
}

fn run_query(cmd: QueryCmd, path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    match cmd {
        QueryCmd::Account { address, node } => {
            let ks = Keystore::open(path)?;
            let addr = resolve_address(&address, &ks)?;
            let v = Client::new(&node.node).get(&format!("/v1/account/{addr}"))?;
            print(json, &v, || {
                format!(
                    "{}  balance {} micro  nonce {}",
                    addr,
                    v["balance"].as_str().unwrap_or("?"),
                    v["nonce"]
                )
            });
        }
        QueryCmd::Block { id, node } => {
            let v = Client::new(&node.node).get(&format!("/v1/block/{id}"))?;
            print(json, &v, || {
                format!(
                    "block {}  {}\n  time {} ms  txs {}\n  state root {}",
                    v["height"],
                    v["hash"].as_str().unwrap_or(""),
                    v["timestamp_ms"],
                    v["tx_count"],
                    v["state_root"].as_str().unwrap_or("")
                )
            });
        }
        QueryCmd::Tx { hash, node } => {
            let v = Client::new(&node.node).get(&format!("/v1/tx/{hash}"))?;
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
        }
    }
    Ok(())
}

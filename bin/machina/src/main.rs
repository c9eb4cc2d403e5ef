//! Machina command line: dev chain, transactions, queries, keys and benchmarks.

mod bench;
mod bench_devnet;
mod bench_energy;
mod bench_machines;
mod client;
mod demo;
mod demo_charts;
mod demo_report;
mod devnet;
mod energy;
mod gateway;
mod keystore;
mod query;
mod tx;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use client::NodeError;
use keystore::Keystore;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Run a simulated energy community on an embedded chain and report on it.
    Demo(demo::DemoArgs),
    /// Run a single-validator dev chain with embedded storage and the HTTP API.
    Dev(DevArgs),
    /// Manage local keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Sign, submit and wait for a transaction.
    Tx(Box<tx::TxArgs>),
    /// Read chain data from a node.
    Query(query::QueryArgs),
    /// The energy market's clearing, offline.
    #[command(subcommand)]
    Energy(energy::EnergyCmd),
    /// Accept device-signed meter readings over HTTP and submit them in batches.
    Gateway(gateway::GatewayArgs),
    /// Measure signature, execution, storage and end-to-end throughput on this machine.
    Bench(bench::BenchArgs),
    /// A local validator network on BFT consensus: `devnet init` writes it, `devnet` alone
    /// writes and runs it.
    Devnet(devnet::DevnetArgs),
    /// Run one validator of a network.
    Validator(devnet::ValidatorArgs),
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
    /// With no transactions, an empty block after this many ms, so clearing and settlement
    /// run on time (0: blocks only for transactions).
    #[arg(long, default_value_t = 1000)]
    idle_block_ms: u64,
    /// Simulated clock: blocks only on `POST /v1/dev/advance {"timestamp_ms": T}`, at chain
    /// time T (for simulations such as `machina demo --node`).
    #[arg(long)]
    sim_clock: bool,
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

fn main() {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let json = cli.json;
    if let Err(e) = run(cli) {
        match e.downcast_ref::<NodeError>() {
            Some(n) if json => {
                print_line(&json!({"code": n.code, "message": n.message}).to_string())
            }
            Some(n) => eprintln!("error: {n}"),
            None if json => {
                print_line(&json!({"code": "cli_error", "message": format!("{e:#}")}).to_string())
            }
            None => eprintln!("error: {e:#}"),
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let keystore_path = cli.keystore.clone().unwrap_or_else(default_keystore);
    match cli.cmd {
        Cmd::Demo(args) => demo::run(args, cli.json),
        Cmd::Dev(args) => run_dev(args, cli.json),
        Cmd::Keys(k) => run_keys(k, &keystore_path, cli.json),
        Cmd::Tx(t) => tx::run(*t, &Keystore::open(&keystore_path)?, cli.json),
        Cmd::Query(q) => query::run(q, &Keystore::open(&keystore_path)?, cli.json),
        Cmd::Energy(e) => energy::run(e, cli.json),
        Cmd::Gateway(g) => gateway::run(g, &mut Keystore::open(&keystore_path)?, cli.json),
        Cmd::Devnet(d) => devnet::run(d, cli.json),
        Cmd::Validator(v) => devnet::run_validator(v),
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

pub(crate) fn print(json: bool, v: &Value, human: impl FnOnce() -> String) {
    let text = if json { v.to_string() } else { human() };
    print_line(&text);
}

/// Writes a line to stdout. When the reader has gone (`machina keys list | head -1`) there is
/// no one left to tell: the process ends quietly with success, as Unix filters do.
pub(crate) fn print_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// The same for output printed with `println!`, which panics on a closed pipe: that panic
/// ends the process quietly instead of printing a backtrace hint. Any other panic is reported
/// as usual.
fn quiet_on_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info)
    }));
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
        idle_block: (args.idle_block_ms > 0).then(|| Duration::from_millis(args.idle_block_ms)),
        sim_clock: args.sim_clock,
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

pub(crate) fn init_logs(json: bool) {
    // Commonware logs every view at info; its warnings are what an operator needs.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,commonware_consensus=warn,commonware_p2p=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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

//! Machina command line: dev chain, transactions, queries, keys, gateway, demo and benchmarks.
//!
//! Thin: each command lives in `cmd/`; each module's `tx` and `query` subcommands in the
//! module's own crate; the demo, the bench and the gateway in theirs.

mod cmd;

/// Every thread allocates and frees per transaction; mimalloc keeps that off the hot path
/// where glibc's malloc stalls to consolidate freed chunks (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use cmd::{dev, devnet, energy, keys, query, tx};
use machina_client::{print_line, Keystore, NodeError};
use serde_json::json;
use std::path::PathBuf;

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
    Demo(machina_demo::DemoArgs),
    /// Run a single-validator dev chain with embedded storage and the HTTP API.
    Dev(dev::DevArgs),
    /// Manage local keys.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Sign, submit and wait for a transaction.
    Tx(Box<tx::TxArgs>),
    /// Read chain data from a node.
    Query(query::QueryArgs),
    /// The energy market's clearing, offline.
    #[command(subcommand)]
    Energy(energy::EnergyCmd),
    /// Accept device-signed meter readings over HTTP and submit them in batches.
    Gateway(machina_gateway::GatewayArgs),
    /// Measure signature, execution, storage and end-to-end throughput on this machine.
    Bench(machina_bench::BenchArgs),
    /// A local validator network on BFT consensus: `devnet init` writes it, `devnet` alone
    /// writes and runs it.
    Devnet(devnet::DevnetArgs),
    /// Run one validator of a network.
    Validator(devnet::ValidatorArgs),
}

fn main() {
    machina_client::quiet_on_closed_stdout();
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
    let keystore_path = cli.keystore.clone().unwrap_or_else(dev::default_keystore);
    let json = cli.json;
    match cli.cmd {
        Cmd::Demo(args) => machina_demo::run(args, json),
        Cmd::Dev(args) => dev::run(args, json),
        Cmd::Keys(k) => keys::run(k, &keystore_path, json),
        Cmd::Tx(t) => tx::run(*t, &Keystore::open(&keystore_path)?, json),
        Cmd::Query(q) => query::run(q, &Keystore::open(&keystore_path)?, json),
        Cmd::Energy(e) => energy::run(e, json),
        Cmd::Gateway(g) => machina_gateway::run(g, &mut Keystore::open(&keystore_path)?, json),
        Cmd::Devnet(d) => devnet::run(d, json),
        Cmd::Validator(v) => devnet::run_validator(v),
        Cmd::Bench(b) => {
            // The bench is quiet unless asked: RUST_LOG=info shows each block it commits.
            if std::env::var_os("RUST_LOG").is_some() {
                machina_client::init_logs(false);
            }
            machina_bench::run(b, json)
        }
    }
}

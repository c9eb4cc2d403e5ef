//! `machina devnet` and `machina validator`: a local validator network on Commonware
//! consensus.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use machina_consensus::devnet::{self, ValidatorConfig, Written};
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Stdio};

/// First port of a devnet when none is given: validator i uses this + 2i (p2p) and + 2i + 1
/// (HTTP).
const DEFAULT_BASE_PORT: u16 = 30_300;

/// `machina devnet`: write a network's files, or write them and run it.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DevnetArgs {
    #[command(subcommand)]
    cmd: Option<DevnetCmd>,
    #[command(flatten)]
    run: NetworkArgs,
}

#[derive(Subcommand)]
enum DevnetCmd {
    /// Write a genesis with a fresh validator set and one config file per validator.
    Init(NetworkArgs),
}

#[derive(Args)]
struct NetworkArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Directory for the genesis and the validators' configs and data (`devnet` alone: a
    /// fresh temporary directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Validator i listens for p2p on this port + 2i and serves HTTP on this port + 2i + 1.
    #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
    base_port: u16,
}

/// `machina validator`: run one validator.
#[derive(Args)]
pub struct ValidatorArgs {
    /// Its config file, as written by `machina devnet init`.
    #[arg(long)]
    config: PathBuf,
    /// Log as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

/// Runs `machina devnet ...`.
pub fn run(args: DevnetArgs, json: bool) -> anyhow::Result<()> {
    match args.cmd {
        Some(DevnetCmd::Init(a)) => {
            let out = a.out.context("devnet init needs --out DIR")?;
            let written = devnet::init(a.validators, &out, a.base_port, machina_node::now_ms())?;
            print_written(&written, json);
            Ok(())
        }
        None => run_network(args.run, json),
    }
}

fn print_written(written: &[Written], json: bool) {
    let list: Vec<_> = written
        .iter()
        .map(|w| json!({"config": w.config, "http": w.http, "eth_rpc": w.eth_rpc}))
        .collect();
    machina_client::print(json, &json!(list), || {
        written
            .iter()
            .enumerate()
            .map(|(i, w)| {
                format!(
                    "v{i}  http://{}  eth http://{}  {}",
                    w.http,
                    w.eth_rpc,
                    w.config.display()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
}

/// Runs `machina validator --config PATH`.
pub fn run_validator(args: ValidatorArgs) -> anyhow::Result<()> {
    machina_client::init_logs(args.json_logs);
    let config = ValidatorConfig::load(&args.config)?;
    // SIGTERM or Ctrl-C stops the validator with status 0. Every block is one redb
    // transaction, committed whole or not at all, so stopping at any moment is clean; the
    // network finalizes without this validator until it is back.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stop = {
        let _in_runtime = rt.enter();
        super::StopSignal::install()?
    };
    std::thread::Builder::new()
        .name("stop-signal".into())
        .spawn(move || {
            let signal = rt.block_on(stop.wait());
            tracing::info!(signal, "validator stopping");
            std::process::exit(0);
        })?;
    machina_consensus::validator::run(&config)
}

/// Writes a network and runs every validator as a child process, each output line
/// prefixed with its validator, until Ctrl-C.
fn run_network(args: NetworkArgs, json: bool) -> anyhow::Result<()> {
    let tmp;
    let out = match args.out {
        Some(o) => o,
        None => {
            tmp = tempfile::Builder::new()
                .prefix("machina-devnet")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let written = devnet::init(
        args.validators,
        &out,
        args.base_port,
        machina_node::now_ms(),
    )?;
    print_written(&written, json);
    let mut children: Vec<Child> = Vec::with_capacity(written.len());
    for (i, w) in written.iter().enumerate() {
        let mut child =
            machina_client::process::spawn_validator(&w.config, Stdio::piped(), Stdio::piped())
                .with_context(|| format!("starting validator {i}"))?;
        let prefix = format!("[v{i}] ");
        if let Some(o) = child.stdout.take() {
            prefix_lines(o, prefix.clone());
        }
        if let Some(e) = child.stderr.take() {
            prefix_lines(e, prefix);
        }
        children.push(child);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(tokio::signal::ctrl_c())?;
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    Ok(())
}

fn prefix_lines(stream: impl Read + Send + 'static, prefix: String) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            eprintln!("{prefix}{line}");
        }
    });
}

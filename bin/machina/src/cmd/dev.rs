//! `machina dev`: a single-validator dev chain with embedded storage and the HTTP API.

use anyhow::Context;
use clap::Args;
use machina_client::print;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `machina dev`.
#[derive(Args)]
pub struct DevArgs {
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

/// Runs the dev chain until Ctrl-C.
pub fn run(args: DevArgs, json: bool) -> anyhow::Result<()> {
    machina_client::init_logs(args.json_logs);
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

/// A directory under `$var`, else under `$HOME/fallback`.
fn home_dir(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The keystore used without `--keystore`.
pub fn default_keystore() -> PathBuf {
    home_dir("XDG_CONFIG_HOME", ".config").join("machina/keystore.json")
}

fn default_data_dir() -> PathBuf {
    home_dir("XDG_DATA_HOME", ".local/share").join("machina")
}

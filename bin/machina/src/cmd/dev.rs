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
    /// The chain id of a new chain (a data dir keeps the one it was created with).
    #[arg(long, default_value_t = machina_primitives::DEV_CHAIN_ID)]
    chain_id: u64,
    /// Fund this many more dev accounts, `dev-0` to `dev-{N-1}`, keys derived from the names
    /// as alice's is (at most 1,000; a new chain only).
    #[arg(long, default_value_t = 0)]
    accounts: usize,
    /// Start a new chain from this genesis file instead of the dev genesis: the
    /// `genesis.json` that `machina devnet init` writes (its `chain` section is used).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// On exit, write the chain's state here (every entry and the root), for `--load-state`.
    #[arg(long)]
    dump_state: Option<PathBuf>,
    /// Start a new chain (in a new data dir) whose genesis state is this dump's.
    #[arg(long)]
    load_state: Option<PathBuf>,
    /// The balance of each of `--accounts`, micro-units.
    #[arg(long, default_value_t = machina_stf::genesis::DEV_BALANCE)]
    balance: machina_primitives::Amount,
    /// Most HTTP connections at once; one more is answered 503 `too_many_connections`.
    #[arg(long, default_value_t = machina_api::MAX_CONNECTIONS)]
    http_max_connections: usize,
    /// Longest wait for a request's head, and for the next request on an idle connection, ms.
    #[arg(long, default_value_t = machina_api::HEADER_TIMEOUT.as_millis() as u64)]
    http_header_timeout_ms: u64,
    /// Longest wait for a request's body, ms (then 408 `body_timeout`).
    #[arg(long, default_value_t = machina_api::BODY_TIMEOUT.as_millis() as u64)]
    http_body_timeout_ms: u64,
    /// Address of the Ethereum JSON-RPC (HTTP and WebSocket on one port), or `off`. When the
    /// default address is taken, the JSON-RPC is off with a warning; an address given here
    /// must bind.
    #[arg(long)]
    eth_rpc: Option<String>,
}

/// Where the Ethereum JSON-RPC listens by default: anvil's and Hardhat's port.
const DEFAULT_ETH_RPC: &str = "127.0.0.1:8545";

fn eth_rpc_config(flag: Option<&str>) -> anyhow::Result<Option<machina_node::EthRpcConfig>> {
    let (addr, required) = match flag {
        Some("off") => return Ok(None),
        Some(a) => (a, true),
        None => (DEFAULT_ETH_RPC, false),
    };
    let addr = addr
        .parse()
        .with_context(|| format!("--eth-rpc takes ADDR:PORT or off, not {addr}"))?;
    Ok(Some(machina_node::EthRpcConfig { addr, required }))
}

/// Most extra dev accounts `--accounts` funds.
const MAX_EXTRA_ACCOUNTS: usize = 1_000;

/// The names of every dev account of this run: the six prefunded ones, then `--accounts`.
fn dev_names(extra: usize) -> Vec<String> {
    machina_stf::DEV_ACCOUNTS
        .iter()
        .map(|n| (*n).to_owned())
        .chain((0..extra).map(machina_stf::extra_dev_name))
        .collect()
}

/// Runs the dev chain until Ctrl-C.
pub fn run(args: DevArgs, json: bool) -> anyhow::Result<()> {
    machina_client::init_logs(args.json_logs);
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    if args.reset && data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("wiping {}", data_dir.display()))?;
    }
    if args.accounts > MAX_EXTRA_ACCOUNTS {
        anyhow::bail!(
            "--accounts is at most {MAX_EXTRA_ACCOUNTS}, not {}",
            args.accounts
        );
    }
    let names = dev_names(args.accounts);
    let eth_keys = machina_node::dev_eth_keys();
    let extra = names[machina_stf::DEV_ACCOUNTS.len()..]
        .iter()
        .map(|n| machina_bank::Allocation {
            address: machina_primitives::Keypair::dev(n).address(),
            balance: args.balance,
        })
        .chain(eth_keys.iter().map(|k| machina_bank::Allocation {
            address: k.address(),
            balance: machina_node::DEV_ETH_BALANCE,
        }))
        .collect();
    let config = machina_node::DevConfig {
        data_dir: data_dir.clone(),
        http: args.http,
        block_time: Duration::from_millis(args.block_time_ms.max(1)),
        idle_block: (args.idle_block_ms > 0).then(|| Duration::from_millis(args.idle_block_ms)),
        sim_clock: args.sim_clock,
        extra_genesis: extra,
        chain_id: args.chain_id,
        load_state: args.load_state.clone(),
        genesis: args
            .genesis
            .as_deref()
            .map(machina_consensus::devnet::NetworkGenesis::load)
            .transpose()?
            .map(|n| n.chain),
        http_limits: machina_api::HttpLimits {
            max_connections: args.http_max_connections.max(1),
            header_timeout: Duration::from_millis(args.http_header_timeout_ms.max(1)),
            body_timeout: Duration::from_millis(args.http_body_timeout_ms.max(1)),
        },
        eth_rpc: eth_rpc_config(args.eth_rpc.as_deref())?,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let stop = super::StopSignal::install()?;
        let node = machina_node::start(config).await?;
        node.chain.set_log_txs();
        let accounts: Vec<Value> = names
            .iter()
            .map(|n| {
                let k = machina_primitives::Keypair::dev(n);
                let bal = machina_bank::account(&node.chain.committed().state, &k.address()).balance;
                json!({"name": n, "address": k.address(), "balance": bal, "secret_key": format!("0x{}", hex::encode(k.seed()))})
            })
            .collect();
        let eth_accounts: Vec<Value> = eth_keys
            .iter()
            .map(|k| {
                let bal = machina_bank::account(&node.chain.committed().state, &k.address()).balance;
                json!({"address": k.address(), "balance": bal, "private_key": k.secret_hex()})
            })
            .collect();
        let info = json!({
            "chain_id": node.chain.chain_id(),
            "http": format!("http://{}", node.addr),
            "eth_rpc": node.eth_addr.map(|a| format!("http://{a}")),
            "eth_accounts": eth_accounts,
            "data_dir": data_dir,
            "height": node.chain.committed().head.height,
            "accounts": accounts,
        });
        print(json, &info, || {
            let mut s = format!(
                "Machina dev chain\n  chain id  {}\n  API       http://{}\n  data dir  {}\n  height    {}\n\nDev accounts: the ed25519 secret key of NAME is SHA-256(\"machina/dev-key/v1/\" || NAME) (docs/wire.md); never use them on a real network:\n",
                info["chain_id"], node.addr, data_dir.display(), info["height"]
            );
            for a in &accounts {
                s += &format!("  {:<8} {}  {} micro  secret {}\n", a["name"].as_str().unwrap_or(""), a["address"].as_str().unwrap_or(""), a["balance"].as_str().unwrap_or(""), a["secret_key"].as_str().unwrap_or(""));
            }
            match node.eth_addr {
                Some(a) => s += &format!("\nEthereum JSON-RPC  http://{a}  (WebSocket ws://{a})\nAccounts of the mnemonic \"{}\" (anvil's and Hardhat's), {} tokens each; never use them on a real network:\n", machina_evm::sign::DEV_MNEMONIC, machina_node::DEV_ETH_BALANCE.0 / 1_000_000),
                None => s += "\nEthereum JSON-RPC  off\n",
            }
            for (i, a) in eth_accounts.iter().enumerate() {
                s += &format!("  ({i}) {}  private key {}\n", a["address"].as_str().unwrap_or(""), a["private_key"].as_str().unwrap_or(""));
            }
            s
        });
        let signal = stop.wait().await;
        // The producer finishes the block it is building (a block is one redb transaction,
        // committed whole or not at all) and stops; waiting transactions are dropped.
        tracing::info!(signal, "shutting down");
        let chain = node.chain.clone();
        node.shutdown().await;
        if let Some(path) = &args.dump_state {
            let dump = serde_json::to_vec(&chain.dump_state())?;
            std::fs::write(path, dump)
                .with_context(|| format!("writing the state dump {}", path.display()))?;
            tracing::info!(path = %path.display(), "state dumped");
        }
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

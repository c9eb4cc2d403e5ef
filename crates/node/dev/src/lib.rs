//! Machina dev node: one chain with its block producer and HTTP API, started with one call.
//!
//! Layer 4, and the only layer that reads the clock or picks an async runtime (tokio). Block
//! production runs on its own thread because executing and committing a block is CPU and disk
//! work; the HTTP server runs on tokio and hands signature verification to blocking threads.

pub use machina_chain::{dev_proposer, now_ms, Chain};

use anyhow::Context;
use machina_bank::Allocation;
use machina_stf::Genesis;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How to run a dev node.
#[derive(Clone, Debug)]
pub struct DevConfig {
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// Address the HTTP API binds (port 0 picks a free one).
    pub http: SocketAddr,
    /// Shortest time between two blocks.
    pub block_time: Duration,
    /// With no transactions, an empty block after this long (for time-driven end-of-block
    /// work); `None` makes blocks only for transactions.
    pub idle_block: Option<Duration>,
    /// Simulated clock: no block is produced by itself; `POST /v1/dev/advance` produces one at
    /// the chain time it names. For simulations that run a day in minutes; the state
    /// transition function is the same, only the producer's clock is replaced.
    pub sim_clock: bool,
    /// Allocations beyond the dev accounts, used only when the data dir is new.
    pub extra_genesis: Vec<Allocation>,
    /// The chain id of a new chain (a data dir keeps the one it was created with).
    pub chain_id: u64,
    /// Start a new chain from this state dump (`machina dev --dump-state` writes one); its
    /// chain id is the dump's.
    pub load_state: Option<PathBuf>,
    /// The genesis of a new chain (`machina devnet init`'s `genesis.json` has one), instead
    /// of the dev genesis; `extra_genesis` is added to its allocations (for addresses it does
    /// not already fund) and its chain id wins.
    pub genesis: Option<Genesis>,
    /// The HTTP server's connection, header and body limits.
    pub http_limits: machina_api::HttpLimits,
    /// Where Ethereum JSON-RPC listens (HTTP and WebSocket on one port); `None`: off.
    pub eth_rpc: Option<EthRpcConfig>,
}

/// Where the Ethereum JSON-RPC listens, and whether failing to bind there stops the node.
#[derive(Clone, Debug)]
pub struct EthRpcConfig {
    /// The address.
    pub addr: SocketAddr,
    /// The user asked for this address: failing to bind it is an error. The default address
    /// that is taken (another node, anvil) only turns the JSON-RPC off, with a warning.
    pub required: bool,
}

/// A running dev node.
pub struct DevNode {
    /// The chain it runs.
    pub chain: Arc<Chain>,
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
    /// Where its Ethereum JSON-RPC listens, when it does.
    pub eth_addr: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    producer: std::thread::JoinHandle<()>,
    server: tokio::task::JoinHandle<()>,
    eth_server: Option<tokio::task::JoinHandle<()>>,
}

/// Opens (or creates) the chain and starts the producer and the HTTP API. Must be called
/// inside a tokio runtime.
pub async fn start(config: DevConfig) -> anyhow::Result<DevNode> {
    // On a simulated clock the genesis sits at time 0, so the simulation sets every time.
    let genesis_time = if config.sim_clock { 0 } else { now_ms() };
    let dump = match &config.load_state {
        Some(path) => {
            let text = std::fs::read(path)
                .with_context(|| format!("reading the state dump {}", path.display()))?;
            Some(
                serde_json::from_slice::<machina_chain::StateDump>(&text)
                    .with_context(|| format!("{} is not a state dump", path.display()))?,
            )
        }
        None => None,
    };
    let genesis = match config.genesis.clone() {
        Some(mut g) => {
            // The file's own allocation of an address stands: a devnet's genesis already funds
            // the Ethereum tools' dev accounts that a dev chain adds.
            let allocated: std::collections::BTreeSet<_> = g
                .modules
                .bank
                .allocations
                .iter()
                .map(|a| a.address)
                .collect();
            let extra = config
                .extra_genesis
                .iter()
                .filter(|a| !allocated.contains(&a.address));
            g.modules.bank.allocations.extend(extra.cloned());
            g
        }
        None => {
            let chain_id = dump.as_ref().map_or(config.chain_id, |d| d.chain_id);
            Genesis::dev(chain_id, genesis_time, config.extra_genesis.clone())
        }
    };
    let dir = config.data_dir.clone();
    let chain = tokio::task::spawn_blocking(move || match dump {
        Some(d) => Chain::open_loaded(&dir, &genesis, &d),
        None => Chain::open(&dir, &genesis),
    })
    .await
    .context("opening the chain")??;
    let chain = Arc::new(chain);
    if config.sim_clock {
        chain.set_simulated_clock();
    }
    let listener = machina_api::bind(config.http)
        .with_context(|| format!("binding the HTTP API to {}", config.http))?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (chain, stop) = (chain.clone(), stop.clone());
        let sim_clock = config.sim_clock;
        std::thread::Builder::new()
            .name("producer".into())
            .spawn(move || {
                // On a simulated clock, blocks come only from `POST /v1/dev/advance`.
                if !sim_clock {
                    chain.run_producer(config.block_time, config.idle_block, || {
                        stop.load(Ordering::Relaxed)
                    })
                }
            })?
    };
    let mut app = machina_api::router(chain.clone()).merge(machina_api::dev_router(chain.clone()));
    if config.sim_clock {
        app = app.merge(machina_api::sim_clock_router(chain.clone()));
    }
    let limits = config.http_limits;
    let server = tokio::spawn(machina_api::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    let (eth_addr, eth_server) = match &config.eth_rpc {
        Some(eth) => start_eth_rpc(&chain, eth, limits)?.unzip(),
        None => (None, None),
    };
    Ok(DevNode {
        chain,
        addr,
        eth_addr,
        eth_server,
        stop,
        producer,
        server,
    })
}

/// The Ethereum accounts a dev chain funds and signs for: the first ten of anvil's and
/// Hardhat's default mnemonic. Derived once per process: the mnemonic's key stretching
/// (2,048 rounds of HMAC-SHA512) is slow in a debug build, and a node starting its JSON-RPC
/// after its API already answers must not lag behind its first clients.
pub fn dev_eth_keys() -> Vec<machina_evm::sign::EthKey> {
    static KEYS: std::sync::OnceLock<Vec<machina_evm::sign::EthKey>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        machina_evm::sign::mnemonic_keys(
            machina_evm::sign::DEV_MNEMONIC,
            machina_evm::sign::DEV_ETH_ACCOUNTS,
        )
    })
    .clone()
}

/// What each of [`dev_eth_keys`] holds on a new dev chain: 10,000 tokens, as anvil's accounts
/// hold 10,000 ether.
pub const DEV_ETH_BALANCE: machina_primitives::Amount = machina_primitives::Amount(10_000_000_000);

fn start_eth_rpc(
    chain: &Arc<Chain>,
    eth: &EthRpcConfig,
    limits: machina_api::HttpLimits,
) -> anyhow::Result<Option<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    let listener = match machina_api::bind(eth.addr) {
        Ok(l) => l,
        Err(e) if !eth.required => {
            tracing::warn!(addr = %eth.addr, error = %e, "Ethereum JSON-RPC is off: its default address is taken; pass --eth-rpc ADDR");
            return Ok(None);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("binding the Ethereum JSON-RPC to {}", eth.addr))
        }
    };
    let addr = listener.local_addr()?;
    let rpc = machina_eth_rpc::EthRpc::new(chain.clone(), dev_eth_keys());
    let server = tokio::spawn(machina_api::serve(
        listener,
        machina_eth_rpc::router(rpc),
        limits,
        std::future::pending(),
    ));
    Ok(Some((addr, server)))
}

impl DevNode {
    /// Stops the API and the producer; the last block is already committed.
    pub async fn shutdown(self) {
        self.server.abort();
        if let Some(s) = self.eth_server {
            s.abort();
        }
        self.stop.store(true, Ordering::Relaxed);
        let producer = self.producer;
        let _ = tokio::task::spawn_blocking(move || producer.join()).await;
    }
}

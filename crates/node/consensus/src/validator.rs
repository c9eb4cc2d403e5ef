//! `machina validator`: one validator process on tokio, with authenticated TCP p2p to the
//! validators named in the genesis and the dev chain's HTTP API.

use crate::devnet::{MAX_VALIDATORS, NetworkGenesis, ValidatorConfig};
use crate::engine::{self, CHANNELS};
use crate::{BlockLimits, Pacing, Setup, Timeouts, address_of};
use anyhow::{Context as _, bail};
use commonware_codec::DecodeExt as _;
use commonware_cryptography::{ChaCha20Poly1305, Signer as _, ed25519};
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address as PeerAddress, AddressableManager as _};
use commonware_runtime::{Metrics as _, Runner as _, Supervisor as _};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::NZUsize;
use commonware_utils::ordered::{Map, Set};
use machina_chain::Chain;
use machina_store::Store;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

/// Largest clock difference between peers accepted in a p2p handshake.
const SYNCHRONY_BOUND: Duration = Duration::from_secs(5);
/// Oldest p2p handshake accepted.
const MAX_HANDSHAKE_AGE: Duration = Duration::from_secs(10);
/// Messages queued inside the p2p layer's actors.
const P2P_MAILBOX: usize = 4096;
/// Peer sets the p2p layer keeps: a validator tracks exactly one, the genesis validator set
/// (index 0), which never changes. Commonware's local default keeps 4 and sizes every
/// channel's queues for all of them (see the section "Memory and start-up" in
/// docs/consensus.md).
const TRACKED_PEER_SETS: usize = 1;
/// How often the p2p dialer dials one more validator it is not connected to. Commonware's
/// local default is 500 ms, so a validator of a freshly started 4-validator network was
/// connected to all three peers only 1 to 1.5 s after start, after the first leader had
/// proposed to whoever was there: the first view timed out and the first block came ~2 s
/// later than it could. At 100 ms all peers are connected before the first proposal
/// (`Pacing::idle_wait`, 400 ms); a dial attempt is one TCP connect and handshake, cheap
/// at this rate even for `MAX_VALIDATORS` peers.
const DIAL_INTERVAL: Duration = Duration::from_millis(100);
/// How long after one connection attempt with a peer (dialed or accepted) the next may
/// start. When four validators start at once, first dials often fail (the peer does not
/// listen yet) or cross (both dial each other and one connection is dropped); with
/// Commonware's local default of 1 s (plus up to 0.5 s jitter) the pair stayed apart for the
/// first view or two and the first block waited for their nullifications. 200 ms retries
/// within the first leader's wait. Only validators of the genesis set are ever reserved, and
/// handshakes stay limited per IP, so this does not open the door to other peers.
const PEER_CONNECTION_COOLDOWN: Duration = Duration::from_millis(200);

/// Runs the validator described by `config` until the process is stopped. Must not be
/// called inside a tokio runtime: it starts its own.
pub fn run(config: &ValidatorConfig) -> anyhow::Result<()> {
    let genesis = NetworkGenesis::load(&config.genesis)?;
    let me = config.keypair()?;
    if genesis.validators.len() > MAX_VALIDATORS {
        bail!(
            "genesis names {} validators, at most {MAX_VALIDATORS} are supported",
            genesis.validators.len()
        );
    }
    if !genesis
        .validators
        .iter()
        .any(|v| v.public_key == me.public())
    {
        bail!(
            "this validator's key {} is not in the genesis validator set",
            me.public().address()
        );
    }
    let mut listed: Vec<_> = genesis.validators.iter().map(|v| v.public_key).collect();
    listed.sort();
    let mut staked: Vec<_> = genesis
        .chain
        .modules
        .staking
        .validators
        .iter()
        .map(|v| v.key)
        .collect();
    staked.sort();
    if !staked.is_empty() && staked != listed {
        bail!(
            "the genesis validator set and the staking module's validators differ: they must list the same keys"
        );
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let store = Store::open(&config.data_dir.join("chain.redb"))?;
    let chain = Arc::new(Chain::from_store(store, &genesis.chain, me.address())?);
    let key = ed25519::PrivateKey::decode(me.seed().to_vec())
        .map_err(|e| anyhow::anyhow!("key_seed is not an ed25519 seed: {e}"))?;
    let mut peers = Vec::with_capacity(genesis.validators.len());
    for v in &genesis.validators {
        let pk = ed25519::PublicKey::decode(v.public_key.0.to_vec()).map_err(|e| {
            anyhow::anyhow!(
                "validator key {} is not a valid ed25519 key: {e:?}",
                v.address
            )
        })?;
        peers.push((pk, v.p2p));
    }
    let validators = Set::from_iter_dedup(peers.iter().map(|(k, _)| k.clone()));
    let validator_count = validators.len();
    let limits = BlockLimits::default();
    let max_message = engine::max_message_size(validators.len(), &limits);
    let cfg = commonware_runtime::tokio::Config::new()
        .with_worker_threads(4)
        .with_tcp_nodelay(Some(true))
        .with_catch_panics(false)
        .with_storage_directory(config.data_dir.join("consensus"));
    let http = config.http;
    let eth_rpc = config.eth_rpc;
    let p2p_listen = config.p2p_listen;
    let chain_id = genesis.chain.chain_id;
    commonware_runtime::tokio::Runner::new(cfg).start(|ctx| async move {
        let mut p2p_cfg = lookup::Config::local(
            Cups::<_, ChaCha20Poly1305>::new(
                Sake {
                    signer: key.clone(),
                    synchrony_bound: SYNCHRONY_BOUND,
                    max_handshake_age: MAX_HANDSHAKE_AGE,
                    version: sake::Version::V1,
                },
                cups::Version::V1,
            ),
            &[engine::namespace(chain_id).as_slice(), b"/p2p"].concat(),
            p2p_listen,
            // The peer set is the genesis validator set, no larger: the p2p layer allocates
            // every channel's inbound queue and the shared outbound queue up front, one
            // quota burst per retained peer, so sizing it for MAX_VALIDATORS (64) peers in 4
            // sets cost a 4-validator network 2.8 GB per validator.
            NonZeroUsize::new(validator_count).expect("the genesis names this validator"),
            max_message,
            NZUsize!(P2P_MAILBOX),
        );
        p2p_cfg.tracked_peer_sets = NZUsize!(TRACKED_PEER_SETS);
        p2p_cfg.dial_frequency = DIAL_INTERVAL;
        p2p_cfg.peer_connection_cooldown = PEER_CONNECTION_COOLDOWN;
        let (mut network, mut oracle) = lookup::Network::new(ctx.child("network"), p2p_cfg);
        let book: Map<ed25519::PublicKey, PeerAddress> = peers
            .into_iter()
            .map(|(k, a)| (k, PeerAddress::from(a)))
            .collect::<Vec<_>>()
            .try_into()
            .expect("validator keys are distinct");
        let _ = oracle.track(0, book);
        let channels: Vec<_> = CHANNELS
            .iter()
            .map(|(c, _, quota)| network.register(*c, *quota))
            .collect();
        network.start();

        let metrics_ctx = ctx.child("metrics");
        chain.set_extra_metrics(Box::new(move || metrics_ctx.encode()));
        serve_api(chain.clone(), http).await;
        if let Some(eth) = eth_rpc {
            serve_eth_rpc(chain.clone(), eth).await;
        }

        let setup = Setup {
            chain: chain.clone(),
            key,
            validators,
            namespace: engine::namespace(chain_id),
            partition: "machina".to_string(),
            limits,
            timeouts: Timeouts::default(),
            pacing: Pacing::default(),
        };
        tracing::info!(
            address = %address_of(&setup.key.public_key()),
            %p2p_listen,
            %http,
            height = chain.committed().head.height,
            "validator starting"
        );
        let handle = engine::start(
            ctx.child("engine"),
            setup,
            channels,
            oracle.clone(),
            oracle,
            |f| f,
        )
        .await;
        let _ = handle.await;
        tracing::error!("consensus stopped");
    });
    Ok(())
}

/// Serves the `/v1` API on `addr` from a task of the current tokio runtime.
async fn serve_api(chain: Arc<Chain>, addr: std::net::SocketAddr) {
    let listener = match machina_api::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("machina: cannot bind the HTTP API to {addr}: {e}");
            std::process::exit(1);
        }
    };
    let app = machina_api::router(chain);
    tokio::spawn(machina_api::serve(
        listener,
        app,
        machina_api::HttpLimits::default(),
        std::future::pending(),
    ));
}

/// Serves Ethereum JSON-RPC on `addr` from a task of the current tokio runtime. A validator
/// holds no Ethereum keys: `eth_accounts` is empty and transactions come signed.
async fn serve_eth_rpc(chain: Arc<Chain>, addr: std::net::SocketAddr) {
    let listener = match machina_api::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("machina: cannot bind the Ethereum JSON-RPC to {addr}: {e}");
            std::process::exit(1);
        }
    };
    let app = machina_eth_rpc::router(machina_eth_rpc::EthRpc::new(chain, Vec::new()));
    tokio::spawn(machina_api::serve(
        listener,
        app,
        machina_api::HttpLimits::default(),
        std::future::pending(),
    ));
}

//! The files a validator network starts from: a genesis with the validator set, and one
//! config file per validator.

use anyhow::{Context as _, bail};
use machina_bank::Allocation;
use machina_primitives::{Address, Amount, DEV_CHAIN_ID, Keypair, PublicKey};
use machina_stf::Genesis;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Most validators `devnet init` writes (and the size the p2p layer is set up for).
pub const MAX_VALIDATORS: usize = 64;
/// What each validator's account holds at genesis, to pay fees.
pub const VALIDATOR_BALANCE: Amount = Amount(1_000 * 1_000_000);
/// Of which each validator bonds this much at genesis (the staking module's validator stake).
pub const VALIDATOR_STAKE: Amount = Amount(500 * 1_000_000);

/// One member of the validator set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ValidatorInfo {
    /// Its ed25519 key (consensus, p2p and its Machina account).
    pub public_key: PublicKey,
    /// Its Machina address, which collects the fees of the blocks it proposes.
    pub address: Address,
    /// Where it accepts p2p connections.
    pub p2p: SocketAddr,
}

/// The network's genesis: the chain's genesis and the validator set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkGenesis {
    /// Parameters and initial allocations of the chain.
    pub chain: Genesis,
    /// The validators, in any order (consensus sorts them by key).
    pub validators: Vec<ValidatorInfo>,
}

/// Ports `devnet init` gives each validator from the base port on: p2p, HTTP API, Ethereum
/// JSON-RPC.
pub const PORTS_PER_VALIDATOR: usize = 3;

/// What each of the Ethereum tools' dev accounts holds at a devnet's genesis, micro-units.
pub const DEV_ETH_BALANCE: machina_primitives::Amount = machina_primitives::Amount(10_000_000_000);

/// How one validator runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// Path of the network's genesis file.
    pub genesis: PathBuf,
    /// Hex of the 32-byte seed of its ed25519 key. Keep this file private.
    pub key_seed: String,
    /// Where its chain store and consensus storage live.
    pub data_dir: PathBuf,
    /// Address its p2p layer listens on.
    pub p2p_listen: SocketAddr,
    /// Address its HTTP API listens on.
    pub http: SocketAddr,
    /// Address its Ethereum JSON-RPC (HTTP and WebSocket) listens on; absent: off.
    #[serde(default)]
    pub eth_rpc: Option<SocketAddr>,
}

impl ValidatorConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> anyhow::Result<ValidatorConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading validator config {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing validator config {}", path.display()))
    }

    /// The validator's key.
    pub fn keypair(&self) -> anyhow::Result<Keypair> {
        let bytes =
            hex::decode(self.key_seed.trim_start_matches("0x")).context("key_seed is not hex")?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("key_seed must be 32 bytes"))?;
        Ok(Keypair::from_seed(seed))
    }
}

impl NetworkGenesis {
    /// Reads a genesis file.
    pub fn load(path: &Path) -> anyhow::Result<NetworkGenesis> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading genesis {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing genesis {}", path.display()))
    }
}

/// What `devnet init` wrote for one validator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Written {
    /// Its config file.
    pub config: PathBuf,
    /// Its HTTP API address.
    pub http: String,
    /// Its Ethereum JSON-RPC address.
    pub eth_rpc: String,
}

/// Writes a genesis for `n` validators with fresh keys into `out`, and one config per
/// validator in `out/v{i}/config.json`. Validator `i` uses ports `base_port + 2i` (p2p) and
/// `base_port + 2i + 1` (HTTP) on 127.0.0.1. The genesis time is `genesis_time_ms`.
pub fn init(
    n: usize,
    out: &Path,
    base_port: u16,
    genesis_time_ms: u64,
) -> anyhow::Result<Vec<Written>> {
    init_with(n, out, base_port, genesis_time_ms, Vec::new())
}

/// [`init`], funding `extra` accounts at genesis too (a benchmark's senders).
pub fn init_with(
    n: usize,
    out: &Path,
    base_port: u16,
    genesis_time_ms: u64,
    extra: Vec<Allocation>,
) -> anyhow::Result<Vec<Written>> {
    if n == 0 || n > MAX_VALIDATORS {
        bail!("--validators must be between 1 and {MAX_VALIDATORS}, got {n}");
    }
    if usize::from(base_port) + PORTS_PER_VALIDATOR * n > usize::from(u16::MAX) {
        bail!("--base-port {base_port} leaves no room for {n} validators' ports");
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let out = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    let genesis_path = out.join("genesis.json");
    if genesis_path.exists() {
        bail!(
            "{} exists: refusing to overwrite a network",
            genesis_path.display()
        );
    }
    let keys: Vec<Keypair> = (0..n).map(|_| Keypair::generate()).collect();
    let port = |i: usize, k: usize| {
        base_port + u16::try_from(PORTS_PER_VALIDATOR * i + k).expect("checked above")
    };
    let validators: Vec<ValidatorInfo> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| ValidatorInfo {
            public_key: k.public(),
            address: k.address(),
            p2p: SocketAddr::from(([127, 0, 0, 1], port(i, 0))),
        })
        .collect();
    let mut allocations: Vec<Allocation> = validators
        .iter()
        .map(|v| Allocation {
            address: v.address,
            balance: VALIDATOR_BALANCE,
        })
        .collect();
    // The Ethereum tools' dev accounts, as on a dev chain: a devnet is for development too.
    allocations.extend(
        machina_evm::sign::mnemonic_keys(
            machina_evm::sign::DEV_MNEMONIC,
            machina_evm::sign::DEV_ETH_ACCOUNTS,
        )
        .iter()
        .map(|k| Allocation {
            address: k.address(),
            balance: DEV_ETH_BALANCE,
        }),
    );
    allocations.extend(extra);
    let mut chain = Genesis::dev(DEV_CHAIN_ID, genesis_time_ms, allocations);
    // Each validator bonds part of its own balance: the stake equivocation is slashed from.
    chain.modules.staking.validators = validators
        .iter()
        .map(|v| machina_staking::GenesisValidator {
            key: v.public_key,
            amount: VALIDATOR_STAKE,
        })
        .collect();
    let genesis = NetworkGenesis {
        chain,
        validators: validators.clone(),
    };
    std::fs::write(&genesis_path, serde_json::to_vec_pretty(&genesis)?)?;
    let mut written = Vec::with_capacity(n);
    for (i, (k, v)) in keys.iter().zip(&validators).enumerate() {
        let dir = out.join(format!("v{i}"));
        std::fs::create_dir_all(&dir)?;
        let config = ValidatorConfig {
            genesis: genesis_path.clone(),
            key_seed: hex::encode(k.seed()),
            data_dir: dir.join("data"),
            p2p_listen: v.p2p,
            http: SocketAddr::from(([127, 0, 0, 1], port(i, 1))),
            eth_rpc: Some(SocketAddr::from(([127, 0, 0, 1], port(i, 2)))),
        };
        let path = dir.join("config.json");
        write_private(&path, &serde_json::to_vec_pretty(&config)?)?;
        written.push(Written {
            config: path,
            http: config.http.to_string(),
            eth_rpc: config.eth_rpc.map(|a| a.to_string()).unwrap_or_default(),
        });
    }
    Ok(written)
}

/// Writes a file only its owner can read: it holds a private key.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_a_genesis_and_configs_that_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written = init(4, dir.path(), 40_000, 1).expect("init");
        assert_eq!(written.len(), 4);
        let g = NetworkGenesis::load(&dir.path().join("genesis.json")).expect("genesis");
        assert_eq!(g.validators.len(), 4);
        for (i, w) in written.iter().enumerate() {
            let c = ValidatorConfig::load(&w.config).expect("config");
            let k = c.keypair().expect("key");
            assert_eq!(k.public(), g.validators[i].public_key);
            assert_eq!(c.p2p_listen, g.validators[i].p2p);
            assert_eq!(w.http, format!("127.0.0.1:{}", 40_001 + 3 * i));
            assert_eq!(w.eth_rpc, format!("127.0.0.1:{}", 40_002 + 3 * i));
            assert!(
                g.chain
                    .allocations()
                    .iter()
                    .any(|a| a.address == k.address())
            );
        }
        assert!(
            init(4, dir.path(), 40_000, 1).is_err(),
            "never overwrites a network"
        );
        assert!(init(0, &dir.path().join("x"), 40_000, 1).is_err());
    }
}

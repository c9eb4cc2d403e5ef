//! `machina query`: read chain data from a node.

use clap::{Args, Subcommand};
use machina_api_types::{BlockView, HealthView, TxView};
use machina_client::Client;
use machina_client::Keystore;
use machina_module_cli::QueryHost;
use machina_primitives::{Address, Keypair, PublicKey};
use serde_json::Value;

/// `--node URL` (or `MACHINA_NODE`), which every `tx` and `query` command takes.
#[derive(Args)]
pub struct NodeArg {
    /// The node's HTTP API.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8645",
        env = "MACHINA_NODE"
    )]
    pub node: String,
}

/// `machina query ...`.
#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    node: NodeArg,
    #[command(subcommand)]
    cmd: QueryCmd,
}

/// Chain-level queries, then every module's, one line per module.
#[derive(Subcommand)]
enum QueryCmd {
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
    #[command(flatten)]
    Bank(machina_bank::cli::BankQuery),
    #[command(flatten)]
    Identity(machina_identity::cli::IdentityQuery),
    #[command(flatten)]
    Wallet(machina_wallet::cli::WalletQuery),
    #[command(flatten)]
    Oracle(machina_oracle::cli::OracleQuery),
    #[command(flatten)]
    Energy(machina_energy::cli::EnergyQueryCmd),
    #[command(flatten)]
    Staking(machina_staking::cli::StakingQuery),
    #[command(flatten)]
    Compute(machina_compute::cli::ComputeQueryCmd),
    #[command(flatten)]
    Shares(machina_shares::cli::SharesQueryCmd),
    #[command(flatten)]
    Evm(machina_evm::cli::EvmQuery),
}

/// The command line as the modules' subcommands see it: the node, the keystore, the output
/// mode, and for `tx` commands their signing options.
pub struct Node<'a> {
    pub(crate) client: Client,
    pub(crate) ks: &'a Keystore,
    pub(crate) json: bool,
    pub(crate) tx: Option<&'a super::tx::TxOpts>,
}

impl QueryHost for Node<'_> {
    fn json(&self) -> bool {
        self.json
    }

    fn key(&self, name: &str) -> anyhow::Result<Keypair> {
        self.ks.get(name)
    }

    fn address_of(&self, name_or_hex: &str) -> anyhow::Result<Address> {
        self.ks.address_of(name_or_hex)
    }

    fn public_key_of(&self, name_or_hex: &str) -> anyhow::Result<PublicKey> {
        self.ks.public_key_of(name_or_hex)
    }

    fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.client.get(path)
    }

    fn chain_id(&self) -> anyhow::Result<u64> {
        Ok(self.get_as::<HealthView>("/v1/health")?.0.chain_id)
    }
}

/// Runs `machina query ...`.
pub fn run(args: QueryArgs, ks: &Keystore, json: bool) -> anyhow::Result<()> {
    let r = Node {
        client: Client::new(&args.node.node),
        ks,
        json,
        tx: None,
    };
    match args.cmd {
        QueryCmd::Block { id } => {
            let (b, v): (BlockView, _) = r.get_as(&format!("/v1/block/{id}"))?;
            r.print(&v, &|| {
                format!(
                    "block {}  {}\n  time {} ms  txs {}  events {}\n  state root {}",
                    b.height,
                    b.hash,
                    b.timestamp_ms,
                    b.tx_count,
                    b.events.len(),
                    b.state_root
                )
            });
        }
        QueryCmd::Tx { hash } => r.print_json(&r.get_as::<TxView>(&format!("/v1/tx/{hash}"))?.1),
        QueryCmd::Bank(c) => machina_bank::cli::run_query(&r, c)?,
        QueryCmd::Identity(c) => machina_identity::cli::run_query(&r, c)?,
        QueryCmd::Wallet(c) => machina_wallet::cli::run_query(&r, c)?,
        QueryCmd::Oracle(c) => machina_oracle::cli::run_query(&r, c)?,
        QueryCmd::Energy(c) => machina_energy::cli::run_query(&r, c)?,
        QueryCmd::Staking(c) => machina_staking::cli::run_query(&r, c)?,
        QueryCmd::Compute(c) => machina_compute::cli::run_query(&r, c)?,
        QueryCmd::Shares(c) => machina_shares::cli::run_query(&r, c)?,
        QueryCmd::Evm(c) => machina_evm::cli::run_query(&r, c)?,
    }
    Ok(())
}

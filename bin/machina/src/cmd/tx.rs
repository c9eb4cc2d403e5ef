//! `machina tx`: build, sign, submit a transaction and wait for its receipt. Each module's
//! subcommands come from its own crate (`machina_<module>::cli`); this file signs, submits
//! and prints for all of them.

use super::query::Node;
use anyhow::Context;
use clap::{Args, Subcommand};
use machina_api_types::HealthView;
use machina_client::print;
use machina_client::Keystore;
use machina_client::{Client, NodeError};
use machina_module_cli::{QueryHost, TxHost};
use machina_primitives::{Address, Amount, Keypair};
use machina_stf::{Action, TxBody};
use serde_json::Value;
use std::time::Duration;

/// How many blocks a transaction signed by the CLI stays valid.
const TX_EXPIRY_BLOCKS: u64 = 600;

/// How long the CLI waits for a receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// `machina tx ...`.
#[derive(Args)]
pub struct TxArgs {
    #[command(flatten)]
    opts: TxOpts,
    #[command(subcommand)]
    cmd: TxCmd,
}

/// Options every transaction takes.
#[derive(Args)]
pub struct TxOpts {
    #[command(flatten)]
    node: super::query::NodeArg,
    /// Fee in micro-units.
    #[arg(long, global = true, default_value_t = machina_stf::params::DEFAULT_MIN_FEE)]
    fee: Amount,
    /// An account (address or key name) that pays the fee under a fee allowance it granted.
    #[arg(long, global = true)]
    fee_payer: Option<String>,
    /// Send as this multisig account; `--from` and each `--co-signer` sign.
    #[arg(long, global = true)]
    multisig: Option<String>,
    /// Another member key signing for `--multisig`.
    #[arg(long = "co-signer", global = true)]
    co_signers: Vec<String>,
    /// Send without simulating first. By default the transaction is run against the node's
    /// pending state and not sent if it would fail, so no fee is paid for a known failure.
    #[arg(long, global = true)]
    no_preflight: bool,
}

/// Every module's `tx` subcommands, one line per module.
#[derive(Subcommand)]
enum TxCmd {
    #[command(flatten)]
    Bank(machina_bank::cli::BankTx),
    #[command(flatten)]
    Identity(machina_identity::cli::IdentityTx),
    #[command(flatten)]
    Wallet(machina_wallet::cli::WalletTx),
    #[command(flatten)]
    Oracle(machina_oracle::cli::OracleTx),
    #[command(flatten)]
    Energy(machina_energy::cli::EnergyTx),
    #[command(flatten)]
    Staking(machina_staking::cli::StakingTx),
    #[command(flatten)]
    Compute(machina_compute::cli::ComputeTx),
    #[command(flatten)]
    Shares(machina_shares::cli::SharesTx),
    #[command(flatten)]
    Evm(machina_evm::cli::EvmTx),
}

/// Runs `machina tx ...`.
pub fn run(args: TxArgs, ks: &Keystore, json: bool) -> anyhow::Result<()> {
    let s = Node {
        client: Client::new(&args.opts.node.node),
        ks,
        json,
        tx: Some(&args.opts),
    };
    match args.cmd {
        TxCmd::Bank(c) => machina_bank::cli::run_tx(&s, c),
        TxCmd::Identity(c) => machina_identity::cli::run_tx(&s, c),
        TxCmd::Wallet(c) => machina_wallet::cli::run_tx(&s, c),
        TxCmd::Oracle(c) => machina_oracle::cli::run_tx(&s, c),
        TxCmd::Energy(c) => machina_energy::cli::run_tx(&s, c),
        TxCmd::Staking(c) => machina_staking::cli::run_tx(&s, c),
        TxCmd::Compute(c) => machina_compute::cli::run_tx(&s, c),
        TxCmd::Shares(c) => machina_shares::cli::run_tx(&s, c),
        TxCmd::Evm(c) => machina_evm::cli::run_tx(&s, c),
    }
}

impl Node<'_> {
    /// The options of `machina tx`: a `tx` command's host always has them.
    fn opts(&self) -> &TxOpts {
        self.tx.expect("a tx command's host carries its options")
    }

    /// Signs, submits and waits for `actions`; fails with the receipt's code when they failed.
    fn send_actions(
        &self,
        signer: &Keypair,
        sender: Address,
        actions: Vec<Action>,
    ) -> anyhow::Result<Value> {
        let (h, _): (HealthView, _) = self.get_as("/v1/health")?;
        let (chain_id, height) = (h.chain_id, h.height);
        let account = self.client.get(&format!("/v1/account/{sender}"))?;
        let fee_payer = self
            .opts()
            .fee_payer
            .as_deref()
            .map(|p| self.ks.address_of(p))
            .transpose()?;
        let mut keys = vec![signer.clone()];
        for c in &self.opts().co_signers {
            keys.push(self.ks.get(c)?);
        }
        let key_refs: Vec<&Keypair> = keys.iter().collect();
        let tx = TxBody {
            chain_id,
            sender,
            nonce: account["nonce"].as_u64().context("account has nonce")?,
            // EVM calls buy their gas limit with the fee, on top of what it is set to.
            fee: self
                .opts()
                .fee
                .checked_add(machina_stf::fee_floor(&actions))
                .context("the fee overflows")?,
            expiry_height: height + TX_EXPIRY_BLOCKS,
            fee_payer,
            actions,
        }
        .sign(&key_refs);
        if !self.opts().no_preflight {
            preflight(&self.client, &tx)?;
        }
        let hash = self.client.submit(&tx)?;
        let mut rec = self.client.wait_for_tx(&hash, RECEIPT_TIMEOUT)?;
        if rec.get("tx_hash").is_none() {
            rec["tx_hash"] = Value::String(hash.clone());
        }
        let receipt = &rec["receipt"];
        if receipt["success"] != true {
            // Say what happened to the transaction, not only why: it is on chain, its fee paid.
            if !self.json {
                print_receipt(false, &rec);
            }
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
        Ok(rec)
    }
}

/// Simulates `tx` on the node and stops with the receipt's code if it would fail.
fn preflight(client: &Client, tx: &machina_stf::Transaction) -> anyhow::Result<()> {
    let sim = client.simulate(tx)?;
    let r = &sim["receipt"];
    if r["success"] == true {
        return Ok(());
    }
    Err(NodeError {
        code: r["error"]["code"].as_str().unwrap_or("unknown").to_owned(),
        message: format!(
            "{} (simulated first, so nothing was sent and no fee paid; --no-preflight sends it anyway)",
            r["error"]["message"].as_str().unwrap_or("")
        ),
    }
    .into())
}

impl<A: Into<Action>> TxHost<A> for Node<'_> {
    fn sender_address(&self, signer: &Keypair) -> anyhow::Result<Address> {
        match &self.opts().multisig {
            Some(m) => self.ks.address_of(m),
            None => Ok(signer.address()),
        }
    }

    fn send(&self, signer: &Keypair, sender: Address, actions: Vec<A>) -> anyhow::Result<Value> {
        self.send_actions(
            signer,
            sender,
            actions.into_iter().map(Into::into).collect(),
        )
    }

    fn print_receipt(&self, rec: &Value) {
        print_receipt(self.json, rec);
    }

    fn sends_as_multisig(&self) -> bool {
        self.opts().multisig.is_some()
    }
}

/// Prints a transaction's record: hash, height, fee, outcome (with the code when it failed)
/// and events.
fn print_receipt(json: bool, rec: &Value) {
    print(json, rec, || {
        let r = &rec["receipt"];
        let mut s = format!(
            "tx {}\n  height {}  fee {} micro  {}",
            rec["tx_hash"].as_str().unwrap_or("?"),
            rec["height"],
            r["fee_charged"].as_str().unwrap_or("?"),
            if r["success"] == true {
                "success".to_owned()
            } else {
                format!(
                    "failed: {}",
                    r["error"]["code"].as_str().unwrap_or("unknown")
                )
            }
        );
        for e in r["events"].as_array().into_iter().flatten().skip(1) {
            s += &format!(
                "\n  {}.{} {}",
                e["module"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or(""),
                e["attrs"]
            );
        }
        s
    });
}

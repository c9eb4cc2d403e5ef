//! The wallet module's `machina tx` and `machina query` subcommands.

use crate::action::{SpendPolicy, WalletAction};
use crate::routes::{AllowanceView, WalletView};
use anyhow::Context;
use clap::{Args, Subcommand};
use machina_module_cli::{attr_text, event_attr, QueryHost, TxHost};
use machina_primitives::Amount;
use serde_json::json;

/// `machina tx wallet|session|multisig|sponsor ...`.
#[derive(Subcommand)]
pub enum WalletTx {
    /// Machine wallets: policy, freeze, sweep.
    #[command(subcommand)]
    Wallet(WalletCmd),
    /// Session keys on a machine's account.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Multisig accounts.
    #[command(subcommand)]
    Multisig(MultisigCmd),
    /// Fee sponsorship.
    #[command(subcommand)]
    Sponsor(SponsorCmd),
}

/// `machina query wallet` and `machina query allowance`.
#[derive(Subcommand)]
pub enum WalletQuery {
    /// A machine's wallet: policy, freeze, recent spending.
    Wallet {
        /// Machine id.
        machine: u64,
    },
    /// A fee allowance a sponsor granted.
    Allowance {
        /// Sponsor: address or key name.
        sponsor: String,
        /// Grantee: address or key name.
        grantee: String,
    },
}

/// Runs a wallet `tx` subcommand.
pub fn run_tx(host: &impl TxHost<WalletAction>, cmd: WalletTx) -> anyhow::Result<()> {
    match cmd {
        WalletTx::Wallet(c) => run_wallet(host, c),
        WalletTx::Session(c) => run_session(host, c),
        WalletTx::Multisig(c) => run_multisig(host, c),
        WalletTx::Sponsor(c) => run_sponsor(host, c),
    }
}

/// Runs a wallet `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: WalletQuery) -> anyhow::Result<()> {
    match cmd {
        WalletQuery::Wallet { machine } => {
            let (_, v): (WalletView, _) = host.get_as(&format!("/v1/wallet/{machine}"))?;
            host.print_json(&v);
        }
        WalletQuery::Allowance { sponsor, grantee } => {
            let (sp, gr) = (host.address_of(&sponsor)?, host.address_of(&grantee)?);
            let (a, v): (AllowanceView, _) = host.get_as(&format!("/v1/allowance/{sp}/{gr}"))?;
            host.print(&v, &|| {
                format!(
                    "{} micro left until height {}",
                    a.remaining, a.expiry_height
                )
            });
        }
    }
    Ok(())
}

/// `machina tx wallet ...`.
#[derive(Subcommand)]
pub enum WalletCmd {
    /// Set the machine's spending policy (replaces the previous one).
    SetPolicy {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Most micro-units one transaction may move out.
        #[arg(long)]
        max_per_tx: Option<Amount>,
        /// Most micro-units, fees included, within any `--window-blocks` blocks.
        #[arg(long, requires = "window_blocks")]
        max_per_window: Option<Amount>,
        /// Length of the rolling window in blocks.
        #[arg(long)]
        window_blocks: Option<u64>,
        /// Only these counterparties may receive value (addresses or key names).
        #[arg(long = "allow", num_args = 1..)]
        allow: Vec<String>,
        /// Blocks of cooldown after a spend above `--cooldown-above`.
        #[arg(long, requires = "cooldown_above")]
        cooldown_blocks: Option<u64>,
        /// A spend above this starts a cooldown.
        #[arg(long, requires = "cooldown_blocks")]
        cooldown_above: Option<Amount>,
    },
    /// Freeze the wallet: nothing leaves it.
    Freeze(OwnerMachine),
    /// Unfreeze the wallet.
    Unfreeze(OwnerMachine),
    /// Move the machine's whole balance to its owner.
    Sweep(OwnerMachine),
}

/// The owner and the machine of a wallet command.
#[derive(Args)]
pub struct OwnerMachine {
    /// Key name of the owner.
    #[arg(long)]
    from: String,
    /// The machine.
    #[arg(long)]
    machine: u64,
}

/// `machina tx session ...`.
#[derive(Subcommand)]
pub enum SessionCmd {
    /// Let a key act for the machine within limits.
    Grant {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The session key: key name or public key hex.
        #[arg(long)]
        key: String,
        /// Actions it may use, comma separated (e.g. `transfer`).
        #[arg(long, value_delimiter = ',', required = true)]
        actions: Vec<String>,
        /// Most micro-units, fees included, it may move out.
        #[arg(long)]
        spend_cap: Amount,
        /// Last height it is valid at.
        #[arg(long)]
        expiry_height: u64,
    },
    /// Withdraw a session key.
    Revoke {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The session key: key name or public key hex.
        #[arg(long)]
        key: String,
    },
}

/// `machina tx multisig ...`.
#[derive(Subcommand)]
pub enum MultisigCmd {
    /// Create an M-of-N multisig account; prints its address.
    Create {
        /// Key name of the creator (pays the fee).
        #[arg(long)]
        from: String,
        /// Member keys: key names or public key hex (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// Signatures needed.
        #[arg(long)]
        threshold: u8,
    },
    /// Change the members of the `--multisig` account (needs its threshold of signatures).
    Update {
        /// Key name of one signing member.
        #[arg(long)]
        from: String,
        /// New member keys (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// New threshold.
        #[arg(long)]
        threshold: u8,
    },
}

/// `machina tx sponsor ...`.
#[derive(Subcommand)]
pub enum SponsorCmd {
    /// Pay the fees of `--grantee` up to `--cap` until `--expiry-height`.
    Grant {
        /// Key name of the sponsor.
        #[arg(long)]
        from: String,
        /// The sponsored account: address or key name.
        #[arg(long)]
        grantee: String,
        /// Most micro-units of fees in total.
        #[arg(long)]
        cap: Amount,
        /// Last height it is valid at.
        #[arg(long)]
        expiry_height: u64,
    },
    /// Withdraw a fee allowance.
    Revoke {
        /// Key name of the sponsor.
        #[arg(long)]
        from: String,
        /// The sponsored account: address or key name.
        #[arg(long)]
        grantee: String,
    },
}

fn run_wallet(host: &impl TxHost<WalletAction>, cmd: WalletCmd) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        WalletCmd::SetPolicy {
            from,
            machine,
            max_per_tx,
            max_per_window,
            window_blocks,
            allow,
            cooldown_blocks,
            cooldown_above,
        } => {
            let allowlist = allow
                .iter()
                .map(|a| host.address_of(a))
                .collect::<anyhow::Result<_>>()?;
            let policy = SpendPolicy {
                max_per_tx,
                max_per_window,
                window_blocks: window_blocks.unwrap_or(0),
                allowlist,
                cooldown_blocks: cooldown_blocks.unwrap_or(0),
                cooldown_above,
            };
            (
                from,
                WalletAction::SetSpendPolicy {
                    machine_id: machine,
                    policy,
                },
            )
        }
        WalletCmd::Freeze(o) => (
            o.from,
            WalletAction::SetWalletFrozen {
                machine_id: o.machine,
                frozen: true,
            },
        ),
        WalletCmd::Unfreeze(o) => (
            o.from,
            WalletAction::SetWalletFrozen {
                machine_id: o.machine,
                frozen: false,
            },
        ),
        WalletCmd::Sweep(o) => (
            o.from,
            WalletAction::SweepMachine {
                machine_id: o.machine,
            },
        ),
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

fn run_session(host: &impl TxHost<WalletAction>, cmd: SessionCmd) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        SessionCmd::Grant {
            from,
            machine,
            key,
            actions,
            spend_cap,
            expiry_height,
        } => {
            let key = host.public_key_of(&key)?;
            let action = WalletAction::GrantSession {
                machine_id: machine,
                key,
                actions,
                spend_cap,
                expiry_height,
            };
            (from, action)
        }
        SessionCmd::Revoke { from, machine, key } => {
            let key = host.public_key_of(&key)?;
            (
                from,
                WalletAction::RevokeSession {
                    machine_id: machine,
                    key,
                },
            )
        }
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

fn run_multisig(host: &impl TxHost<WalletAction>, cmd: MultisigCmd) -> anyhow::Result<()> {
    match cmd {
        MultisigCmd::Create {
            from,
            members,
            threshold,
        } => {
            let members = members
                .iter()
                .map(|m| host.public_key_of(m))
                .collect::<anyhow::Result<_>>()?;
            let (_, rec) = host.send_from(
                &from,
                vec![WalletAction::CreateMultisig { members, threshold }],
            )?;
            let address = attr_text(event_attr(&rec, "multisig_created", "address"))
                .context("receipt names the address")?;
            let out =
                json!({"address": address, "threshold": threshold, "tx_hash": rec["tx_hash"]});
            host.print(&out, &|| format!("multisig account {address}"));
        }
        MultisigCmd::Update {
            from,
            members,
            threshold,
        } => {
            if !host.sends_as_multisig() {
                anyhow::bail!("--multisig ADDR names the account to update");
            }
            let members = members
                .iter()
                .map(|m| host.public_key_of(m))
                .collect::<anyhow::Result<_>>()?;
            host.print_receipt(
                &host
                    .send_from(
                        &from,
                        vec![WalletAction::UpdateMultisig { members, threshold }],
                    )?
                    .1,
            );
        }
    }
    Ok(())
}

fn run_sponsor(host: &impl TxHost<WalletAction>, cmd: SponsorCmd) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        SponsorCmd::Grant {
            from,
            grantee,
            cap,
            expiry_height,
        } => {
            let grantee = host.address_of(&grantee)?;
            (
                from,
                WalletAction::GrantFeeAllowance {
                    grantee,
                    cap,
                    expiry_height,
                },
            )
        }
        SponsorCmd::Revoke { from, grantee } => {
            let grantee = host.address_of(&grantee)?;
            (from, WalletAction::RevokeFeeAllowance { grantee })
        }
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

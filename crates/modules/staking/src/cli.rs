//! The staking module's `machina tx stake` and `machina query stake` subcommands.

use crate::action::{StakingAction, Subject};
use crate::routes::StakeView;
use clap::{Args, Subcommand};
use machina_module_cli::{QueryHost, TxHost};
use machina_primitives::Amount;

/// What a bond backs, as flags: exactly one of them.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct SubjectArgs {
    /// A compute machine the sender owns.
    #[arg(long)]
    provider: Option<u64>,
    /// A data feed the sender reports to.
    #[arg(long)]
    reporter: Option<String>,
    /// A validator key: hex, or a key name.
    #[arg(long)]
    validator: Option<String>,
}

impl SubjectArgs {
    fn subject(&self, host: &impl QueryHost) -> anyhow::Result<Subject> {
        Ok(match (&self.provider, &self.reporter, &self.validator) {
            (Some(id), _, _) => Subject::Provider { machine_id: *id },
            (_, Some(feed), _) => Subject::Reporter { feed: feed.clone() },
            (_, _, Some(k)) => Subject::Validator {
                key: host.public_key_of(k)?,
            },
            _ => anyhow::bail!("name what the stake backs: --provider, --reporter or --validator"),
        })
    }
}

/// `machina tx stake ...`.
#[derive(Subcommand)]
pub enum StakingTx {
    /// Stake for compute providers, feed reporters and validators.
    #[command(subcommand)]
    Stake(StakeCmd),
}

/// `machina tx stake bond|unbond`.
#[derive(Subcommand)]
pub enum StakeCmd {
    /// Lock stake at once.
    Bond {
        /// Key name of the bonder.
        #[arg(long)]
        from: String,
        /// What it backs.
        #[command(flatten)]
        subject: SubjectArgs,
        /// Micro-units.
        #[arg(long)]
        amount: Amount,
    },
    /// Start unbonding: returns by itself after the role's delay.
    Unbond {
        /// Key name of the bonder.
        #[arg(long)]
        from: String,
        /// What it backs.
        #[command(flatten)]
        subject: SubjectArgs,
        /// Micro-units.
        #[arg(long)]
        amount: Amount,
    },
}

/// `machina query stake ROLE SUBJECT [--bonder NAME]`.
#[derive(Subcommand)]
pub enum StakingQuery {
    /// A subject's bonded total, and a bonder's part.
    Stake {
        /// provider, reporter or validator.
        role: String,
        /// The machine id, feed name or validator key.
        subject: String,
        /// A bonder (address or key name) whose part to show.
        #[arg(long)]
        bonder: Option<String>,
    },
}

/// Runs a staking `tx` subcommand.
pub fn run_tx(host: &impl TxHost<StakingAction>, cmd: StakingTx) -> anyhow::Result<()> {
    let StakingTx::Stake(cmd) = cmd;
    let (from, action) = match cmd {
        StakeCmd::Bond {
            from,
            subject,
            amount,
        } => {
            let subject = subject.subject(host)?;
            (from, StakingAction::Bond { subject, amount })
        }
        StakeCmd::Unbond {
            from,
            subject,
            amount,
        } => {
            let subject = subject.subject(host)?;
            (from, StakingAction::Unbond { subject, amount })
        }
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

/// Runs a staking `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: StakingQuery) -> anyhow::Result<()> {
    let StakingQuery::Stake {
        role,
        subject,
        bonder,
    } = cmd;
    let subject = match role.as_str() {
        "validator" => {
            machina_primitives::AttrValue::from(host.public_key_of(&subject)?).to_string()
        }
        _ => subject,
    };
    let mut path = format!("/v1/stake/{role}/{subject}");
    if let Some(b) = bonder {
        path += &format!("?bonder={}", host.address_of(&b)?);
    }
    let (s, v): (StakeView, _) = host.get_as(&path)?;
    host.print(&v, &|| match (&s.bonder, &s.bonded) {
        (Some(b), Some(p)) => format!("{} micro bonded in total, {p} of them by {b}", s.total),
        _ => format!("{} micro bonded in total", s.total),
    });
    Ok(())
}

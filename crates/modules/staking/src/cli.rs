//! The staking module's `machina tx stake` and `machina query stake` subcommands.

use crate::action::{Role, StakingAction, Subject};
use crate::routes::{OwnerView, StakeView};
use clap::{Args, Subcommand};
use machina_module_cli::{QueryHost, TxHost};
use machina_primitives::Amount;

/// What a bond backs: a role and the subject's id.
#[derive(Args)]
pub struct SubjectArgs {
    /// provider, reporter or validator.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// A machine id (provider), FEED or FEED:REPORTER (reporter; the reporter is an address
    /// or a key name, the sender when left out), or a validator key (hex or a key name).
    #[arg(long)]
    subject: String,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("no role {s:?}: provider, reporter or validator"))
}

/// The subject `id` of `role`; a reporter's account defaults to `sender`.
fn subject(
    host: &impl QueryHost,
    role: Role,
    id: &str,
    sender: Option<&str>,
) -> anyhow::Result<Subject> {
    Ok(match role {
        Role::Provider => Subject::Provider {
            machine_id: id
                .parse()
                .map_err(|_| anyhow::anyhow!("a provider subject is a machine id, not {id:?}"))?,
        },
        Role::Reporter => {
            let (feed, who) = match (id.rsplit_once(':'), sender) {
                (Some((feed, who)), _) => (feed, who),
                (None, Some(sender)) => (id, sender),
                (None, None) => anyhow::bail!("a reporter subject is FEED:REPORTER, not {id:?}"),
            };
            Subject::Reporter {
                feed: feed.to_owned(),
                reporter: host.address_of(who)?,
            }
        }
        Role::Validator => Subject::Validator {
            key: host.public_key_of(id)?,
        },
    })
}

/// `machina tx stake ...`.
#[derive(Subcommand)]
pub enum StakingTx {
    /// Stake for compute providers, feed reporters and validators.
    #[command(subcommand)]
    Stake(StakeCmd),
}

/// `machina tx stake bond|unbond|prove-equivocation`.
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
    /// Start unbonding: slashable until the role's delay has passed, then returned by itself.
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
    /// Submit evidence that a validator signed two conflicting consensus votes.
    ProveEquivocation {
        /// Key name of the prover (paid its share of the slash).
        #[arg(long)]
        from: String,
        /// The evidence, hex (as a validator logs it).
        #[arg(long)]
        evidence: String,
    },
}

/// `machina query stake SUBJECT --role ROLE` or `machina query stake --owner ADDR`.
#[derive(Subcommand)]
pub enum StakingQuery {
    /// A subject's stake (bonded, unbonding, jail, slashes), or what an owner has staked.
    Stake {
        /// The subject's id (with --role).
        #[arg(required_unless_present = "owner", requires = "role")]
        subject: Option<String>,
        /// provider, reporter or validator.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// An owner (address or key name): its bonds and unbondings.
        #[arg(long, conflicts_with = "subject")]
        owner: Option<String>,
    },
}

/// Runs a staking `tx` subcommand.
pub fn run_tx(host: &impl TxHost<StakingAction>, cmd: StakingTx) -> anyhow::Result<()> {
    let StakingTx::Stake(cmd) = cmd;
    let (from, action) = match cmd {
        StakeCmd::Bond {
            from,
            subject: s,
            amount,
        } => {
            let subject = subject(host, s.role, &s.subject, Some(&from))?;
            (from, StakingAction::Bond { subject, amount })
        }
        StakeCmd::Unbond {
            from,
            subject: s,
            amount,
        } => {
            let subject = subject(host, s.role, &s.subject, Some(&from))?;
            (from, StakingAction::Unbond { subject, amount })
        }
        StakeCmd::ProveEquivocation { from, evidence } => {
            let evidence = hex::decode(evidence.trim().trim_start_matches("0x"))
                .map_err(|_| anyhow::anyhow!("--evidence is hex"))?;
            (from, StakingAction::ProveValidatorEquivocation { evidence })
        }
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

/// Runs a staking `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: StakingQuery) -> anyhow::Result<()> {
    let StakingQuery::Stake {
        subject: id,
        role,
        owner,
    } = cmd;
    if let Some(owner) = owner {
        let (o, v): (OwnerView, _) =
            host.get_as(&format!("/v1/stake/owner/{}", host.address_of(&owner)?))?;
        host.print(&v, &|| owner_text(&o));
        return Ok(());
    }
    let (Some(id), Some(role)) = (id, role) else {
        anyhow::bail!("name a SUBJECT with --role, or an --owner");
    };
    let s = subject(host, role, &id, None)?;
    let path = format!("/v1/stake/{}/{}", role.name(), escape_segment(&s.id()));
    let (s, v): (StakeView, _) = host.get_as(&path)?;
    host.print(&v, &|| stake_text(&s));
    Ok(())
}

/// Percent-encodes what a path segment may not hold as is (feed names are free text).
fn escape_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn stake_text(s: &StakeView) -> String {
    let mut out = format!(
        "{} {}\nbonded          {} micro ({} bonders)\n",
        s.role.name(),
        s.subject,
        s.bonded,
        s.bonds.len()
    );
    out += &format!("unbonding       {} micro\n", s.unbonding_total);
    for u in &s.unbonding {
        out += &format!(
            "  {} micro to {} at height {}\n",
            u.amount, u.owner, u.release_height
        );
    }
    out += &format!(
        "jailed_until    {}\nslashed_total   {} micro",
        s.jailed_until, s.slashed_total
    );
    out
}

fn owner_text(o: &OwnerView) -> String {
    let mut out = format!("{}\n", o.owner);
    if o.bonds.is_empty() && o.unbonding.is_empty() {
        return out + "nothing staked";
    }
    for b in &o.bonds {
        out += &format!(
            "bonded     {} micro for {} {}\n",
            b.amount,
            b.role.name(),
            b.subject
        );
    }
    for u in &o.unbonding {
        out += &format!(
            "unbonding  {} micro from {} {}, released at height {}\n",
            u.amount,
            u.role.name(),
            u.subject,
            u.release_height
        );
    }
    out.trim_end().to_owned()
}

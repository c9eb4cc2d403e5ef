//! The shares module's `machina tx shares` and `machina query shares` subcommands.

use crate::action::{RulesChange, SharesAction};
use crate::records::Source;
use crate::routes::{AccrualsView, ClassView, HolderView, RevenueView};
use clap::{Args, Subcommand};
use machina_module_cli::{QueryHost, TxHost};
use machina_primitives::Amount;

/// `machina tx shares ...`.
#[derive(Subcommand)]
pub enum SharesTx {
    /// Machine shares: issue, transfer, offer, buy, rules, claims.
    #[command(subcommand)]
    Shares(SharesTxCmd),
}

/// `machina query shares ...`.
#[derive(Subcommand)]
pub enum SharesQueryCmd {
    /// Machine shares: a machine's class, a holder's holdings, a machine's revenue.
    #[command(subcommand)]
    Shares(SharesQuery),
}

/// What `machina tx shares` sends.
#[derive(Subcommand)]
pub enum SharesTxCmd {
    /// Issue the shares of a machine you own, once; you hold them all at first.
    Issue {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Shares, fixed for ever.
        #[arg(long)]
        supply: u64,
        /// The owner's cut of each revenue event, basis points (may be lowered later, never raised above this).
        #[arg(long, default_value_t = 0)]
        operator_fee_bps: u16,
        /// Give the owner the power to force transfers (lost keys, court orders).
        #[arg(long)]
        forced_transfer: bool,
    },
    /// Send shares to another account, under the class's rules.
    Transfer {
        /// Key name of the holder.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The receiver: an address or a key name.
        #[arg(long)]
        to: String,
        /// Shares.
        #[arg(long)]
        amount: u64,
    },
    /// As the owner of a class issued with --forced-transfer, move a holder's shares.
    ForceTransfer {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Whose shares: an address or a key name.
        #[arg(long)]
        holder: String,
        /// The receiver: an address or a key name.
        #[arg(long)]
        to: String,
        /// Shares.
        #[arg(long)]
        amount: u64,
    },
    /// Offer some of your shares at a fixed price (amount 0 ends the offering).
    Offer {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Shares on offer.
        #[arg(long)]
        amount: u64,
        /// Price per share, micro-units.
        #[arg(long, default_value = "0")]
        price: Amount,
    },
    /// Buy shares from a machine's offering; payment and shares change hands at once.
    Buy {
        /// Key name of the buyer.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Shares.
        #[arg(long)]
        amount: u64,
        /// The most to pay per share (default: the offering's price now).
        #[arg(long)]
        max_price: Option<Amount>,
    },
    /// Change a class's transfer rules, its allowlist, or lower its operator fee.
    SetRules {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// What changes.
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// Claim your accrued revenue, of one machine or of all your holdings.
    Claim {
        /// Key name of the holder.
        #[arg(long)]
        from: String,
        /// One machine (default: all your holdings).
        #[arg(long)]
        machine: Option<u64>,
    },
}

/// The rules `set-rules` changes; what is left out stays.
#[derive(Args)]
pub struct RulesArgs {
    /// on: only allowlisted accounts may receive shares; off: anyone may.
    #[arg(long, value_parser = on_off)]
    allowlist: Option<bool>,
    /// Holders other than the owner may not transfer before this height (0: none).
    #[arg(long)]
    lockup_until: Option<u64>,
    /// The most holders (0: no limit).
    #[arg(long)]
    max_holders: Option<u32>,
    /// A lower operator fee, basis points.
    #[arg(long)]
    operator_fee_bps: Option<u16>,
    /// Add an account (address or key name) to the allowlist; repeat for more.
    #[arg(long)]
    allow: Vec<String>,
    /// Remove an account from the allowlist; repeat for more.
    #[arg(long)]
    disallow: Vec<String>,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("{s:?} is neither on nor off")),
    }
}

/// What `machina query shares` reads.
#[derive(Subcommand)]
pub enum SharesQuery {
    /// A machine's share class: supply, holders, operator fee, rules, revenue.
    Machine {
        /// The machine.
        id: u64,
    },
    /// What an account holds and may claim; with --machine, the revenue events its
    /// unclaimed revenue of that machine comes from.
    Holder {
        /// An address or a key name.
        address: String,
        /// One machine's accruals.
        #[arg(long)]
        machine: Option<u64>,
    },
    /// A machine's revenue events with their sources, oldest first.
    Revenue {
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// From this chain time, ms.
        #[arg(long)]
        from_ms: Option<u64>,
        /// Up to (not including) this chain time, ms.
        #[arg(long)]
        to_ms: Option<u64>,
    },
}

/// Runs a shares `tx` subcommand.
pub fn run_tx(host: &impl TxHost<SharesAction>, cmd: SharesTx) -> anyhow::Result<()> {
    let SharesTx::Shares(cmd) = cmd;
    let (from, action) = tx_action(host, cmd)?;
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

fn tx_action(
    host: &impl TxHost<SharesAction>,
    cmd: SharesTxCmd,
) -> anyhow::Result<(String, SharesAction)> {
    Ok(match cmd {
        SharesTxCmd::Issue {
            from,
            machine,
            supply,
            operator_fee_bps,
            forced_transfer,
        } => (
            from,
            SharesAction::IssueShares {
                machine_id: machine,
                supply,
                operator_fee_bps,
                forced_transfer,
            },
        ),
        SharesTxCmd::Transfer {
            from,
            machine,
            to,
            amount,
        } => {
            let to = host.address_of(&to)?;
            let a = SharesAction::TransferShares {
                machine_id: machine,
                to,
                amount,
            };
            (from, a)
        }
        SharesTxCmd::ForceTransfer {
            from,
            machine,
            holder,
            to,
            amount,
        } => {
            let a = SharesAction::ForceTransfer {
                machine_id: machine,
                from: host.address_of(&holder)?,
                to: host.address_of(&to)?,
                amount,
            };
            (from, a)
        }
        SharesTxCmd::Offer {
            from,
            machine,
            amount,
            price,
        } => (
            from,
            SharesAction::OfferShares {
                machine_id: machine,
                amount,
                price_per_share: price,
            },
        ),
        SharesTxCmd::Buy {
            from,
            machine,
            amount,
            max_price,
        } => {
            let max_price_per_share = match max_price {
                Some(p) => p,
                None => offering_price(host, machine)?,
            };
            let a = SharesAction::BuyShares {
                machine_id: machine,
                amount,
                max_price_per_share,
            };
            (from, a)
        }
        SharesTxCmd::SetRules {
            from,
            machine,
            rules,
        } => {
            let change = rules_change(host, rules)?;
            (
                from,
                SharesAction::SetShareRules {
                    machine_id: machine,
                    change,
                },
            )
        }
        SharesTxCmd::Claim { from, machine } => (
            from,
            SharesAction::ClaimRevenue {
                machine_id: machine,
            },
        ),
    })
}

/// The price of a machine's open offering, as the node shows it.
fn offering_price(host: &impl QueryHost, machine: u64) -> anyhow::Result<Amount> {
    let (c, _): (ClassView, _) = host.get_as(&format!("/v1/shares/machine/{machine}"))?;
    c.offering
        .map(|o| o.price_per_share)
        .ok_or_else(|| anyhow::anyhow!("machine {machine} has no shares on offer"))
}

fn rules_change(host: &impl QueryHost, r: RulesArgs) -> anyhow::Result<RulesChange> {
    let addresses = |names: Vec<String>| -> anyhow::Result<Vec<_>> {
        names.iter().map(|n| host.address_of(n)).collect()
    };
    Ok(RulesChange {
        allowlist: r.allowlist,
        lockup_until: r.lockup_until,
        max_holders: r.max_holders,
        operator_fee_bps: r.operator_fee_bps,
        allow: addresses(r.allow)?,
        disallow: addresses(r.disallow)?,
    })
}

/// Runs a shares `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: SharesQueryCmd) -> anyhow::Result<()> {
    let SharesQueryCmd::Shares(cmd) = cmd;
    match cmd {
        SharesQuery::Machine { id } => {
            let (c, v): (ClassView, _) = host.get_as(&format!("/v1/shares/machine/{id}"))?;
            host.print(&v, &|| class_text(&c));
        }
        SharesQuery::Holder {
            address,
            machine: None,
        } => {
            let a = host.address_of(&address)?;
            let (h, v): (HolderView, _) = host.get_as(&format!("/v1/shares/holder/{a}"))?;
            host.print(&v, &|| holder_text(&h));
        }
        SharesQuery::Holder {
            address,
            machine: Some(m),
        } => {
            let a = host.address_of(&address)?;
            let path = format!("/v1/shares/holder/{a}/accruals?machine={m}");
            let (h, v): (AccrualsView, _) = host.get_as(&path)?;
            host.print(&v, &|| accruals_text(&h));
        }
        SharesQuery::Revenue {
            machine,
            from_ms,
            to_ms,
        } => {
            let mut path = format!("/v1/shares/revenue/{machine}?");
            if let Some(a) = from_ms {
                path += &format!("from_ms={a}&");
            }
            if let Some(b) = to_ms {
                path += &format!("to_ms={b}");
            }
            let (r, v): (RevenueView, _) = host.get_as(path.trim_end_matches(['&', '?']))?;
            host.print(&v, &|| revenue_text(&r));
        }
    }
    Ok(())
}

fn class_text(c: &ClassView) -> String {
    let r = &c.rules;
    let mut out = format!(
        "machine {} shares (class {})\nsupply          {}\nholders         {}\n",
        c.machine_id, c.class, c.supply, c.holders
    );
    out += &format!(
        "operator fee    {} bps (at most {})\nforced transfer {}\n",
        c.operator_fee_bps,
        c.max_operator_fee_bps,
        if c.forced_transfer { "allowed" } else { "no" }
    );
    out += &format!(
        "rules           allowlist {}, lock-up until height {}, max holders {}\n",
        if r.allowlist { "on" } else { "off" },
        r.lockup_until,
        if r.max_holders == 0 {
            "none".to_owned()
        } else {
            r.max_holders.to_string()
        }
    );
    if let Some(o) = &c.offering {
        out += &format!(
            "offering        {} shares at {} micro each\n",
            o.remaining, o.price_per_share
        );
    }
    out += &format!(
        "revenue         {} micro in {} events ({} to holders, {} fees, {} claimed)",
        c.revenue_total, c.revenue_events, c.to_holders_total, c.fees_total, c.claimed_total
    );
    out
}

fn holder_text(h: &HolderView) -> String {
    if h.holdings.is_empty() {
        return format!("{}\nno shares", h.holder);
    }
    let mut out = format!("{}\n", h.holder);
    for x in &h.holdings {
        out += &format!(
            "machine {:>6}  {} of {} shares  claimable {} micro\n",
            x.machine_id, x.balance, x.supply, x.claimable
        );
    }
    out + &format!("claimable in all {} micro", h.claimable)
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Energy {
            zone,
            interval_start_ms,
            order_id,
            metered_wh,
        } => format!(
            "energy zone {zone} interval {interval_start_ms} order {order_id} ({metered_wh} Wh metered)"
        ),
        Source::Compute {
            job_id,
            lease,
            from_height,
            to_height,
        } => format!("compute job {job_id} lease {lease} blocks {from_height}..{to_height}"),
    }
}

fn accruals_text(a: &AccrualsView) -> String {
    let mut out = format!(
        "{} on machine {}: claimable {} micro\n",
        a.holder, a.machine_id, a.claimable
    );
    for x in &a.accruals {
        out += &format!(
            "#{:<5} height {:<6} {:>10} micro on {} shares  from {}\n",
            x.seq,
            x.height,
            x.amount,
            x.balance,
            source_text(&x.source)
        );
    }
    out.trim_end().to_owned()
}

fn revenue_text(r: &RevenueView) -> String {
    let mut out = format!(
        "machine {}: {} micro in {} revenue events\n",
        r.machine_id, r.total, r.count
    );
    for e in &r.events {
        out += &format!(
            "#{:<5} height {:<6} {:>10} micro (fee {}, holders {})  from {}\n",
            e.seq,
            e.height,
            e.amount,
            e.operator_fee,
            e.to_holders,
            source_text(&e.source)
        );
    }
    out.trim_end().to_owned()
}

//! Shares as a module: stateless checks and dispatch. It has no block hooks: revenue reaches
//! it from the markets' own end-of-block work, through [`crate::credit`].

use crate::action::SharesAction;
use crate::SharesError;
use machina_module::{ActionCtx, Host, Module, ModuleError, StatelessCtx};
use machina_primitives::{Amount, Event};

/// The shares module.
pub struct Shares;

impl ModuleError for SharesError {
    // `unknown_machine`, `not_owner` and `machine_revoked` are identity's codes.
    const CODES: &'static [&'static str] = &[
        "no_shares",
        "shares_already_issued",
        "invalid_supply",
        "invalid_operator_fee",
        "operator_fee_raised",
        "zero_shares",
        "insufficient_shares",
        "shares_to_self",
        "holder_not_allowlisted",
        "locked_up",
        "too_many_holders",
        "too_many_holdings",
        "forced_transfer_disabled",
        "no_offering",
        "offering_short",
        "price_changed",
        "zero_price",
        "nothing_to_claim",
    ];

    fn code(&self) -> &'static str {
        SharesError::code(self)
    }

    fn is_policy_breach(&self) -> bool {
        matches!(self, SharesError::Wallet(w) if w.is_policy_breach())
    }
}

impl Module for Shares {
    const NAME: &'static str = "shares";
    const ID: u8 = 7;
    type Action = SharesAction;
    type Error = SharesError;
    type Genesis = ();

    fn check_stateless(action: &SharesAction, _cx: &StatelessCtx) -> crate::Result<()> {
        match action {
            SharesAction::IssueShares {
                supply,
                operator_fee_bps,
                ..
            } => crate::transfer::check_issue(*supply, *operator_fee_bps),
            SharesAction::TransferShares { amount, .. }
            | SharesAction::ForceTransfer { amount, .. }
            | SharesAction::BuyShares { amount, .. } => {
                if *amount == 0 {
                    return Err(SharesError::ZeroShares);
                }
                Ok(())
            }
            SharesAction::OfferShares {
                amount,
                price_per_share,
                ..
            } => {
                if *amount > 0 && *price_per_share == Amount::ZERO {
                    return Err(SharesError::ZeroPrice);
                }
                Ok(())
            }
            SharesAction::SetShareRules { change, .. } => match change.operator_fee_bps {
                Some(f) if f > crate::BPS => Err(SharesError::InvalidFee(f)),
                _ => Ok(()),
            },
            SharesAction::ClaimRevenue { .. } => Ok(()),
        }
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &SharesAction,
    ) -> crate::Result<Vec<Event>> {
        let e = match action {
            SharesAction::IssueShares {
                machine_id,
                supply,
                operator_fee_bps,
                forced_transfer,
            } => crate::issue(
                host,
                ctx,
                *machine_id,
                *supply,
                *operator_fee_bps,
                *forced_transfer,
            )?,
            SharesAction::TransferShares {
                machine_id,
                to,
                amount,
            } => crate::transfer(host, ctx, *machine_id, to, *amount)?,
            SharesAction::ForceTransfer {
                machine_id,
                from,
                to,
                amount,
            } => crate::force_transfer(host, ctx, *machine_id, from, to, *amount)?,
            SharesAction::OfferShares {
                machine_id,
                amount,
                price_per_share,
            } => crate::offer(host, ctx, *machine_id, *amount, *price_per_share)?,
            SharesAction::BuyShares {
                machine_id,
                amount,
                max_price_per_share,
            } => crate::buy(host, ctx, *machine_id, *amount, *max_price_per_share)?,
            SharesAction::SetShareRules { machine_id, change } => {
                crate::set_rules(host, ctx, *machine_id, change)?
            }
            SharesAction::ClaimRevenue { machine_id } => {
                return crate::claim(host, ctx, *machine_id)
            }
        };
        Ok(vec![e])
    }
}

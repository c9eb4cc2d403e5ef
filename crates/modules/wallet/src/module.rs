//! The wallet as a module: stateless checks and dispatch.

use crate::action::WalletAction;
use crate::{Session, WalletError};
use machina_module::{ActionCtx, Host, Module, ModuleError, StatelessCtx};
use machina_primitives::{Amount, Event};

/// The wallet module.
pub struct Wallet;

impl ModuleError for WalletError {
    // `unauthorized` (a key that is no session key) is the stf's code.
    const CODES: &'static [&'static str] = &[
        "wallet_frozen",
        "not_allowlisted",
        "cooldown_active",
        "per_tx_cap_exceeded",
        "window_cap_exceeded",
        "invalid_policy",
        "session_expired",
        "session_action_not_allowed",
        "session_cap_exceeded",
        "invalid_session",
        "invalid_multisig",
        "not_multisig",
        "account_exists",
        "no_fee_allowance",
        "fee_allowance_expired",
        "fee_allowance_exceeded",
        "invalid_fee_allowance",
    ];

    fn code(&self) -> &'static str {
        WalletError::code(self)
    }

    fn is_policy_breach(&self) -> bool {
        WalletError::is_policy_breach(self)
    }
}

impl Module for Wallet {
    const NAME: &'static str = "wallet";
    const ID: u8 = 2;
    type Action = WalletAction;
    type Error = WalletError;
    type Genesis = ();

    fn check_stateless(action: &WalletAction, cx: &StatelessCtx) -> crate::Result<()> {
        if let WalletAction::GrantSession { actions, .. } = action {
            if let Some(unknown) = actions.iter().find(|a| !(cx.is_action_name)(a)) {
                return Err(WalletError::InvalidSession(format!(
                    "no action is called {}",
                    machina_primitives::limits::quote_prefix(unknown)
                )));
            }
        }
        Ok(())
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &WalletAction,
    ) -> crate::Result<Vec<Event>> {
        let state = host;
        let sender = &ctx.sender;
        let event = match action {
            WalletAction::SetSpendPolicy { machine_id, policy } => {
                crate::set_policy(state, sender, *machine_id, policy)?
            }
            WalletAction::SetWalletFrozen { machine_id, frozen } => {
                crate::set_frozen(state, sender, *machine_id, *frozen)?
            }
            WalletAction::SweepMachine { machine_id } => crate::sweep(state, sender, *machine_id)?,
            WalletAction::GrantSession {
                machine_id,
                key,
                actions,
                spend_cap,
                expiry_height,
            } => {
                let grant = Session {
                    granted_by: *sender,
                    actions: actions.clone(),
                    spend_cap: *spend_cap,
                    spent: Amount::ZERO,
                    expiry_height: *expiry_height,
                };
                crate::grant_session(state, sender, *machine_id, key, grant, ctx.height())?
            }
            WalletAction::RevokeSession { machine_id, key } => {
                crate::revoke_session(state, sender, *machine_id, key)?
            }
            WalletAction::CreateMultisig { members, threshold } => {
                let address = crate::multisig_address(sender, ctx.tx_nonce, ctx.action_index);
                crate::create_multisig(state, &address, members, *threshold)?
            }
            WalletAction::UpdateMultisig { members, threshold } => {
                crate::update_multisig(state, sender, members, *threshold)?
            }
            WalletAction::GrantFeeAllowance {
                grantee,
                cap,
                expiry_height,
            } => {
                crate::grant_allowance(state, sender, grantee, *cap, *expiry_height, ctx.height())?
            }
            WalletAction::RevokeFeeAllowance { grantee } => {
                crate::revoke_allowance(state, sender, grantee)?
            }
        };
        Ok(vec![event])
    }
}

/// How a refused payment reaches another module through its host: the same code, sentence
/// and policy flag.
impl From<crate::WalletError> for machina_module::SpendRefusal {
    fn from(e: crate::WalletError) -> Self {
        machina_module::SpendRefusal {
            code: e.code(),
            message: e.to_string(),
            policy_breach: e.is_policy_breach(),
        }
    }
}

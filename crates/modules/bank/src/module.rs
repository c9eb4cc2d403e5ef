//! The bank as a module: its one action and how it runs.

use crate::{Allocation, BankError};
use machina_module::{ActionCtx, Host, Module, ModuleError, StatelessCtx};
use machina_primitives::{Address, Amount, Decode, Encode, Event};
use machina_state::StateWrite;
use serde::{Deserialize, Serialize};

/// The bank's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "bank action")]
pub enum BankAction {
    /// Move `amount` from the sender to `to`, through the sender's wallet policy.
    #[codec(tag = 1)]
    Transfer {
        /// Recipient.
        to: Address,
        /// Micro-units to move.
        amount: Amount,
    },
}

/// The bank's genesis section: the initial balances.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankGenesis {
    /// Initial balances; their sum is the total supply, forever.
    #[serde(default)]
    pub allocations: Vec<Allocation>,
}

/// The bank module.
pub struct Bank;

impl ModuleError for BankError {
    const CODES: &'static [&'static str] = &[
        "insufficient_funds",
        "self_transfer",
        "zero_amount",
        "balance_overflow",
        "bad_nonce",
        "invalid_genesis",
    ];

    fn code(&self) -> &'static str {
        BankError::code(self)
    }

    fn is_policy_breach(&self) -> bool {
        matches!(self, BankError::Refused(r) if r.policy_breach)
    }
}

impl Module for Bank {
    const NAME: &'static str = "bank";
    const ID: u8 = 0;
    type Action = BankAction;
    type Error = BankError;
    type Genesis = BankGenesis;

    fn init_genesis(state: &mut impl StateWrite, genesis: &BankGenesis) -> crate::Result<()> {
        crate::init_genesis(state, &genesis.allocations)
    }

    fn check_stateless(action: &BankAction, _cx: &StatelessCtx) -> crate::Result<()> {
        match action {
            BankAction::Transfer { amount, .. } if *amount == Amount::ZERO => {
                Err(BankError::ZeroAmount)
            }
            BankAction::Transfer { .. } => Ok(()),
        }
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &BankAction,
    ) -> crate::Result<Vec<Event>> {
        match action {
            BankAction::Transfer { to, amount } => {
                let event = host
                    .pay(ctx, &ctx.sender, to, *amount)
                    .map_err(BankError::Refused)?;
                Ok(vec![event])
            }
        }
    }
}

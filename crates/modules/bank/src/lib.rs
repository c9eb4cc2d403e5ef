//! Machina bank module: accounts, balances, transfers, fees, nonces and genesis allocations.
//!
//! Layer 2. All value moves through [`transfer`], so the sum of balances equals the total
//! supply recorded at genesis, always.

mod account;
pub mod cli;
mod keys;
mod module;
pub mod routes;

pub use account::{Account, Authorization};
pub use module::{Bank, BankAction, BankGenesis};

use machina_primitives::{Address, Amount, Decode, Encode, Event};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest encoded account record: balance, nonce and the largest authorisation (a multisig
/// with the most members).
const MAX_ACCOUNT_BYTES: usize =
    16 + 8 + 1 + 1 + 4 + 32 * machina_primitives::limits::MAX_MULTISIG_MEMBERS;

/// Why the bank refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BankError {
    /// The account cannot pay.
    #[error("account {account} has {have} micro, needs {need}")]
    InsufficientFunds {
        /// The payer.
        account: Address,
        /// Its balance.
        have: Amount,
        /// What was needed.
        need: Amount,
    },
    /// Sender and recipient are the same account.
    #[error("transfer to self is not allowed: {0}")]
    SelfTransfer(Address),
    /// A transfer of nothing.
    #[error("transfer amount must be at least 1 micro")]
    ZeroAmount,
    /// A balance would exceed `u128::MAX`.
    #[error("balance of {0} would overflow")]
    BalanceOverflow(Address),
    /// The nonce is not the account's next one.
    #[error("account {account} expects nonce {expected}, transaction has {got}")]
    BadNonce {
        /// The sender.
        account: Address,
        /// The nonce the account expects.
        expected: u64,
        /// The nonce the transaction carries.
        got: u64,
    },
    /// Genesis lists an address twice or allocates more than fits.
    #[error("invalid genesis: {0}")]
    InvalidGenesis(String),
    /// The spend path (the sender's wallet policy, its session key's cap) refused a payment.
    #[error("{0}")]
    Refused(machina_module::SpendRefusal),
}

impl BankError {
    /// The stable code of this error, part of the protocol.
    pub fn code(&self) -> &'static str {
        match self {
            BankError::InsufficientFunds { .. } => "insufficient_funds",
            BankError::SelfTransfer(_) => "self_transfer",
            BankError::ZeroAmount => "zero_amount",
            BankError::BalanceOverflow(_) => "balance_overflow",
            BankError::BadNonce { .. } => "bad_nonce",
            BankError::InvalidGenesis(_) => "invalid_genesis",
            BankError::Refused(r) => r.code,
        }
    }
}

/// Result alias of the bank.
pub type Result<T> = std::result::Result<T, BankError>;

/// One genesis allocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// Who receives it.
    pub address: Address,
    /// How much.
    pub balance: Amount,
}

/// The account at `addr`; an account never seen is empty with nonce 0.
pub fn account(state: &impl StateRead, addr: &Address) -> Account {
    state
        .get(&keys::account(addr))
        .map(|b| {
            // The bank wrote these bytes itself: failing to read them back is a broken
            // invariant, not bad input.
            Account::decode_exact(&b, MAX_ACCOUNT_BYTES).expect("stored account record decodes")
        })
        .unwrap_or_default()
}

/// The state key of an account's record, for inclusion proofs that light clients check.
/// Other modules read accounts through [`account`], never through this key.
pub fn account_state_key(addr: &Address) -> Vec<u8> {
    keys::account(addr)
}

fn put_account(state: &mut impl StateWrite, addr: &Address, acct: &Account) {
    state.set(keys::account(addr), acct.encode());
}

/// Total supply fixed at genesis.
pub fn total_supply(state: &impl StateRead) -> Amount {
    state
        .get(&keys::supply())
        .map(|b| Amount::decode_exact(&b, 16).expect("stored supply decodes"))
        .unwrap_or_default()
}

/// Writes the genesis allocations and the total supply.
pub fn init_genesis(state: &mut impl StateWrite, allocations: &[Allocation]) -> Result<()> {
    let mut supply = Amount::ZERO;
    for a in allocations {
        if state.get(&keys::account(&a.address)).is_some() {
            return Err(BankError::InvalidGenesis(format!(
                "{} is allocated twice",
                a.address
            )));
        }
        supply = supply
            .checked_add(a.balance)
            .ok_or_else(|| BankError::InvalidGenesis("total supply overflows".into()))?;
        put_account(
            state,
            &a.address,
            &Account {
                balance: a.balance,
                ..Account::default()
            },
        );
    }
    state.set(keys::supply(), supply.encode());
    Ok(())
}

/// Sets an account's balance, minting or burning the difference so that the total supply
/// follows. Only the dev chain's `POST /v1/dev/set-balance` calls it, outside any transaction;
/// no action reaches it. `None` when the supply would overflow.
pub fn dev_set_balance(state: &mut impl StateWrite, addr: &Address, balance: Amount) -> Option<()> {
    let mut acct = account(state, addr);
    let supply = total_supply(state)
        .0
        .checked_sub(acct.balance.0)?
        .checked_add(balance.0)?;
    acct.balance = balance;
    put_account(state, addr, &acct);
    state.set(keys::supply(), Amount(supply).encode());
    Some(())
}

/// Advances the sender's nonce once its transaction is included.
pub fn bump_nonce(state: &mut impl StateWrite, sender: &Address) {
    let mut acct = account(state, sender);
    acct.nonce = acct
        .nonce
        .checked_add(1)
        .expect("a nonce cannot reach u64::MAX: each costs a fee");
    put_account(state, sender, &acct);
}

/// Replaces who may sign for `addr`, keeping its balance and nonce.
pub fn set_authorization(state: &mut impl StateWrite, addr: &Address, auth: Authorization) {
    let mut acct = account(state, addr);
    acct.auth = auth;
    put_account(state, addr, &acct);
}

/// Moves the fee from `payer` to `collector`. Runs once the transaction is known to be
/// includable; the fee stays charged even if the actions then fail.
pub fn charge_fee(
    state: &mut impl StateWrite,
    payer: &Address,
    fee: Amount,
    collector: &Address,
) -> Result<Event> {
    let mut acct = account(state, payer);
    acct.balance = acct
        .balance
        .checked_sub(fee)
        .ok_or(BankError::InsufficientFunds {
            account: *payer,
            have: acct.balance,
            need: fee,
        })?;
    put_account(state, payer, &acct);
    credit(state, collector, fee)?;
    Ok(Event::new(
        "bank",
        "fee",
        &[("payer", payer.into()), ("amount", fee.into())],
    ))
}

fn credit(state: &mut impl StateWrite, to: &Address, amount: Amount) -> Result<()> {
    let mut acct = account(state, to);
    acct.balance = acct
        .balance
        .checked_add(amount)
        .ok_or(BankError::BalanceOverflow(*to))?;
    put_account(state, to, &acct);
    Ok(())
}

/// Sets the balances of several accounts at once, as the EVM leaves them after a call. The
/// changes must conserve value: what some accounts lose the others gain, exactly, so the total
/// supply cannot move. `None` (and nothing written) when they do not, or a balance overflows.
pub fn set_balances_conserving(
    state: &mut impl StateWrite,
    balances: &[(Address, Amount)],
) -> Option<()> {
    let mut before: u128 = 0;
    let mut after: u128 = 0;
    for (addr, new) in balances {
        before = before.checked_add(account(state, addr).balance.0)?;
        after = after.checked_add(new.0)?;
    }
    if before != after {
        return None;
    }
    for (addr, new) in balances {
        let mut acct = account(state, addr);
        if acct.balance != *new {
            acct.balance = *new;
            put_account(state, addr, &acct);
        }
    }
    Some(())
}

/// Sets a contract account's nonce, which the EVM advances when the contract creates another.
/// Senders' nonces advance only through [`bump_nonce`].
pub fn set_contract_nonce(state: &mut impl StateWrite, addr: &Address, nonce: u64) {
    let mut acct = account(state, addr);
    if acct.nonce != nonce {
        acct.nonce = nonce;
        put_account(state, addr, &acct);
    }
}

/// Moves `amount` from `from` to `to`.
pub fn transfer(
    state: &mut impl StateWrite,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> Result<Event> {
    if amount == Amount::ZERO {
        return Err(BankError::ZeroAmount);
    }
    if from == to {
        return Err(BankError::SelfTransfer(*from));
    }
    let mut src = account(state, from);
    src.balance = src
        .balance
        .checked_sub(amount)
        .ok_or(BankError::InsufficientFunds {
            account: *from,
            have: src.balance,
            need: amount,
        })?;
    put_account(state, from, &src);
    credit(state, to, amount)?;
    Ok(Event::new(
        "bank",
        "transfer",
        &[
            ("from", from.into()),
            ("to", to.into()),
            ("amount", amount.into()),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_state::Overlay;
    use std::collections::BTreeMap;

    fn addr(b: u8) -> Address {
        Address([b; 20])
    }

    fn funded() -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut base = BTreeMap::new();
        let mut o = Overlay::new(&base);
        init_genesis(
            &mut o,
            &[Allocation {
                address: addr(1),
                balance: Amount(1000),
            }],
        )
        .expect("genesis");
        for (k, v) in o.into_changes() {
            base.insert(k, v.expect("genesis only sets"));
        }
        base
    }

    #[test]
    fn transfer_moves_exactly_the_amount() {
        let base = funded();
        let mut s = Overlay::new(&base);
        transfer(&mut s, &addr(1), &addr(2), Amount(300)).expect("transfer");
        assert_eq!(account(&s, &addr(1)).balance, Amount(700));
        assert_eq!(account(&s, &addr(2)).balance, Amount(300));
    }

    #[test]
    fn transfer_to_self_is_rejected() {
        let base = funded();
        let mut s = Overlay::new(&base);
        let e = transfer(&mut s, &addr(1), &addr(1), Amount(1)).unwrap_err();
        assert_eq!(e.code(), "self_transfer");
    }

    #[test]
    fn overspending_is_rejected_with_both_figures() {
        let base = funded();
        let mut s = Overlay::new(&base);
        let e = transfer(&mut s, &addr(1), &addr(2), Amount(1001)).unwrap_err();
        assert_eq!(e.code(), "insufficient_funds");
        assert!(e.to_string().contains("has 1000 micro, needs 1001"), "{e}");
    }

    #[test]
    fn zero_transfers_are_rejected() {
        let base = funded();
        let mut s = Overlay::new(&base);
        assert_eq!(
            transfer(&mut s, &addr(1), &addr(2), Amount(0)),
            Err(BankError::ZeroAmount)
        );
    }

    #[test]
    fn genesis_refuses_a_duplicate_address() {
        let base = BTreeMap::new();
        let mut o = Overlay::new(&base);
        let a = Allocation {
            address: addr(1),
            balance: Amount(1),
        };
        let e = init_genesis(&mut o, &[a.clone(), a]).unwrap_err();
        assert_eq!(e.code(), "invalid_genesis");
    }

    #[test]
    fn a_plain_account_is_authorised_only_by_its_address_key() {
        let k = machina_primitives::Keypair::dev("alice");
        let other = machina_primitives::Keypair::dev("bob");
        let auth = Authorization::AddressKey;
        assert!(auth.allows(&k.address(), &[k.public()]));
        assert!(!auth.allows(&k.address(), &[other.public()]));
    }

    #[test]
    fn a_multisig_needs_threshold_distinct_members() {
        let keys: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|n| machina_primitives::Keypair::dev(n).public())
            .collect();
        let auth = Authorization::Multisig {
            threshold: 2,
            members: keys.clone(),
        };
        let acct = Address([5; 20]);
        assert!(auth.allows(&acct, &keys[..2]));
        assert!(!auth.allows(&acct, &[keys[0], keys[0]]));
        let outsider = machina_primitives::Keypair::dev("x").public();
        assert!(!auth.allows(&acct, &[keys[0], outsider]));
    }

    #[test]
    fn account_records_round_trip_with_every_authorisation() {
        let pk = machina_primitives::Keypair::dev("d").public();
        for auth in [
            Authorization::AddressKey,
            Authorization::Machine {
                machine_id: 7,
                device_key: pk,
            },
            Authorization::Revoked { machine_id: 7 },
            Authorization::Multisig {
                threshold: 1,
                members: vec![pk; 16],
            },
        ] {
            let a = Account {
                balance: Amount(3),
                nonce: 9,
                auth,
            };
            assert_eq!(Account::decode_exact(&a.encode(), MAX_ACCOUNT_BYTES), Ok(a));
        }
    }
}

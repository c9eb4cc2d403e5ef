//! Machina wallet module: spending policies on machine accounts, session keys, multisig
//! accounts and fee sponsorship.
//!
//! Layer 2. Every module that moves value out of an account does it through [`pay`] (and the
//! fee through [`pay_fee`]), so a machine's policy holds whichever module moves its money:
//! frozen wallets, allowlists, per-transaction and rolling-window caps, cooldowns, and the caps
//! of session keys.

pub mod action;
pub mod cli;
mod keys;
mod module;
mod records;
pub mod routes;

pub use action::{SpendPolicy, WalletAction};
pub use machina_module::ActionCtx;
pub use module::Wallet;
pub use records::{Allowance, Session, SpendState, WalletRecord, WINDOW_BUCKETS};

use machina_bank::{Authorization, BankError};
use machina_identity::IdentityError;
use machina_primitives::limits::{MAX_ALLOWLIST, MAX_MULTISIG_MEMBERS, MAX_SESSION_ACTIONS};
use machina_primitives::{Address, Amount, Decode, Encode, Event, PublicKey};
use machina_state::{StateRead, StateWrite};
use thiserror::Error;

/// Largest encoded wallet record: a policy with a full allowlist.
const MAX_RECORD_BYTES: usize = 2048;

/// Why the wallet refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WalletError {
    /// The owner froze the wallet.
    #[error("wallet of machine {0} is frozen")]
    Frozen(u64),
    /// The recipient is not on the allowlist.
    #[error("{0} is not on the wallet's allowlist")]
    NotAllowlisted(Address),
    /// A cooldown is running.
    #[error("wallet is cooling down after a large spend until height {0} included")]
    CoolingDown(u64),
    /// The per-transaction cap would be exceeded.
    #[error("this transaction would move {would} micro out, the per-transaction cap is {cap}")]
    PerTxCap {
        /// The cap.
        cap: Amount,
        /// Total of the transaction with this spend.
        would: Amount,
    },
    /// The rolling-window cap would be exceeded.
    #[error("spending would reach {would} micro within {window_blocks} blocks, the cap is {cap}")]
    WindowCap {
        /// The cap.
        cap: Amount,
        /// The window.
        window_blocks: u64,
        /// Spent within the window with this spend.
        would: Amount,
    },
    /// The policy itself is not valid.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// No such session key on the account.
    #[error("key is not a session key of account {0}")]
    NoSession(Address),
    /// The session key expired.
    #[error("session key expired at height {0}")]
    SessionExpired(u64),
    /// The session key may not use this action.
    #[error("session key may not use action {0}")]
    SessionActionNotAllowed(String),
    /// The session key's spend cap would be exceeded.
    #[error("session key would have moved {would} micro, its cap is {cap}")]
    SessionCap {
        /// The cap.
        cap: Amount,
        /// Total with this spend.
        would: Amount,
    },
    /// A session grant breaks a rule.
    #[error("invalid session: {0}")]
    InvalidSession(String),
    /// A multisig definition breaks a rule.
    #[error("invalid multisig: {0}")]
    InvalidMultisig(String),
    /// The sender is not a multisig account.
    #[error("{0} is not a multisig account")]
    NotMultisig(Address),
    /// The account to create exists already.
    #[error("account {0} already exists")]
    AccountExists(Address),
    /// The named fee payer granted the sender no allowance.
    #[error("{sponsor} has no fee allowance for {grantee}")]
    NoAllowance {
        /// The named fee payer.
        sponsor: Address,
        /// The sender.
        grantee: Address,
    },
    /// The fee allowance expired.
    #[error("fee allowance expired at height {0}")]
    AllowanceExpired(u64),
    /// The fee allowance is used up.
    #[error("fee allowance has {remaining} micro left, the fee is {fee}")]
    AllowanceExceeded {
        /// Left.
        remaining: Amount,
        /// Asked.
        fee: Amount,
    },
    /// A fee allowance grant breaks a rule.
    #[error("invalid fee allowance: {0}")]
    InvalidAllowance(String),
    /// From the identity module.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// From the bank.
    #[error(transparent)]
    Bank(#[from] BankError),
}

impl WalletError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            WalletError::Frozen(_) => "wallet_frozen",
            WalletError::NotAllowlisted(_) => "not_allowlisted",
            WalletError::CoolingDown(_) => "cooldown_active",
            WalletError::PerTxCap { .. } => "per_tx_cap_exceeded",
            WalletError::WindowCap { .. } => "window_cap_exceeded",
            WalletError::InvalidPolicy(_) => "invalid_policy",
            WalletError::NoSession(_) => "unauthorized",
            WalletError::SessionExpired(_) => "session_expired",
            WalletError::SessionActionNotAllowed(_) => "session_action_not_allowed",
            WalletError::SessionCap { .. } => "session_cap_exceeded",
            WalletError::InvalidSession(_) => "invalid_session",
            WalletError::InvalidMultisig(_) => "invalid_multisig",
            WalletError::NotMultisig(_) => "not_multisig",
            WalletError::AccountExists(_) => "account_exists",
            WalletError::NoAllowance { .. } => "no_fee_allowance",
            WalletError::AllowanceExpired(_) => "fee_allowance_expired",
            WalletError::AllowanceExceeded { .. } => "fee_allowance_exceeded",
            WalletError::InvalidAllowance(_) => "invalid_fee_allowance",
            WalletError::Identity(e) => e.code(),
            WalletError::Bank(e) => e.code(),
        }
    }

    /// Whether this is a breach of a machine's policy, which counts against its reputation.
    pub fn is_policy_breach(&self) -> bool {
        matches!(
            self,
            WalletError::Frozen(_)
                | WalletError::NotAllowlisted(_)
                | WalletError::CoolingDown(_)
                | WalletError::PerTxCap { .. }
                | WalletError::WindowCap { .. }
        )
    }
}

/// Result alias of the wallet.
pub type Result<T> = std::result::Result<T, WalletError>;

fn read<T: Decode>(state: &impl StateRead, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::decode_exact(&b, MAX_RECORD_BYTES).expect("wallet wrote this record"))
}

/// A machine account's wallet record (policy and freeze), if its owner set one.
pub fn wallet(state: &impl StateRead, account: &Address) -> Option<WalletRecord> {
    read(state, &keys::policy(account))
}

/// What a machine account spent recently.
pub fn spend_state(state: &impl StateRead, account: &Address) -> SpendState {
    read(state, &keys::spend(account)).unwrap_or_default()
}

/// A session key's grant on an account.
pub fn session(state: &impl StateRead, account: &Address, key: &PublicKey) -> Option<Session> {
    read(state, &keys::session(account, key))
}

/// A fee allowance from `sponsor` to `grantee`.
pub fn allowance(
    state: &impl StateRead,
    sponsor: &Address,
    grantee: &Address,
) -> Option<Allowance> {
    read(state, &keys::allowance(sponsor, grantee))
}

fn bucket_len(window_blocks: u64) -> u64 {
    window_blocks.div_ceil(WINDOW_BUCKETS).max(1)
}

/// Micro-units spent in the window that ends at `height`, counting whole buckets: it may
/// count a little more than `window_blocks` back, never less, so a cap always holds over every
/// exact window.
fn window_sum(s: &mut SpendState, height: u64, window_blocks: u64) -> Amount {
    let current = height / bucket_len(window_blocks);
    s.buckets
        .retain(|(b, _)| *b >= current.saturating_sub(WINDOW_BUCKETS) && *b <= current);
    s.buckets.iter().fold(Amount::ZERO, |acc, (_, a)| {
        acc.checked_add(*a)
            .expect("window sums are bounded by the supply")
    })
}

fn add_to_window(s: &mut SpendState, height: u64, window_blocks: u64, amount: Amount) {
    let current = height / bucket_len(window_blocks);
    match s.buckets.last_mut() {
        Some((b, a)) if *b == current => {
            *a = a.checked_add(amount).expect("bounded by the supply");
        }
        _ => s.buckets.push((current, amount)),
    }
}

/// Checks and records value leaving a machine account: `to` is `None` for a fee.
fn check_outflow(
    state: &mut impl StateWrite,
    account: &Address,
    machine_id: u64,
    ctx: &ActionCtx,
    to: Option<&Address>,
    amount: Amount,
) -> Result<()> {
    let Some(w) = wallet(state, account) else {
        return Ok(());
    };
    if w.frozen {
        return Err(WalletError::Frozen(machine_id));
    }
    let p = &w.policy;
    let mut s = spend_state(state, account);
    if let Some(to) = to {
        if !p.allowlist.is_empty() && !p.allowlist.contains(to) {
            return Err(WalletError::NotAllowlisted(*to));
        }
        if let Some(through) = s.cooldown_through.filter(|t| *t >= ctx.height()) {
            return Err(WalletError::CoolingDown(through));
        }
        if s.tx_marker != (ctx.height(), ctx.tx_index) {
            s.tx_marker = (ctx.height(), ctx.tx_index);
            s.tx_spent = Amount::ZERO;
        }
        let would = s
            .tx_spent
            .checked_add(amount)
            .ok_or(BankError::BalanceOverflow(*account))?;
        if let Some(cap) = p.max_per_tx.filter(|cap| would > *cap) {
            return Err(WalletError::PerTxCap { cap, would });
        }
        s.tx_spent = would;
        if p.cooldown_above.is_some_and(|above| amount > above) {
            s.cooldown_through = Some(ctx.height().saturating_add(p.cooldown_blocks));
        }
    }
    if let Some(cap) = p.max_per_window {
        let would = window_sum(&mut s, ctx.height(), p.window_blocks)
            .checked_add(amount)
            .ok_or(BankError::BalanceOverflow(*account))?;
        if would > cap {
            return Err(WalletError::WindowCap {
                cap,
                window_blocks: p.window_blocks,
                would,
            });
        }
        add_to_window(&mut s, ctx.height(), p.window_blocks, amount);
    }
    state.set(keys::spend(account), s.encode());
    Ok(())
}

/// Counts a session key's spend against its cap.
fn charge_session(
    state: &mut impl StateWrite,
    account: &Address,
    key: &PublicKey,
    amount: Amount,
) -> Result<()> {
    let mut s = session(state, account, key).ok_or(WalletError::NoSession(*account))?;
    let would = s
        .spent
        .checked_add(amount)
        .ok_or(BankError::BalanceOverflow(*account))?;
    if would > s.spend_cap {
        return Err(WalletError::SessionCap {
            cap: s.spend_cap,
            would,
        });
    }
    s.spent = would;
    state.set(keys::session(account, key), s.encode());
    Ok(())
}

/// Moves `amount` from `from` to `to` under `from`'s wallet policy and session cap. Every
/// module moves value out of an account through here.
pub fn pay(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> Result<Event> {
    approve_outflow(state, ctx, from, to, amount)?;
    Ok(machina_bank::transfer(state, from, to, amount)?)
}

/// Checks and records a payment out of `from` under its wallet policy and session cap without
/// moving it: for value that another machine moves (the EVM carries a call's value itself), so
/// that the policy applies exactly as in [`pay`]. For a contract about to be created, `to` is
/// its address-to-be, which an allowlist must name.
pub fn approve_outflow(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    from: &Address,
    to: &Address,
    amount: Amount,
) -> Result<()> {
    if let Some(id) = machina_bank::account(state, from).auth.machine_id() {
        check_outflow(state, from, id, ctx, Some(to), amount)?;
    }
    if let (Some(key), true) = (ctx.session, *from == ctx.sender) {
        charge_session(state, from, &key, amount)?;
    }
    Ok(())
}

/// Charges the transaction's fee: to the sender, or to a sponsor (`fee_payer`) within the
/// allowance it granted the sender. A machine paying its own fee pays it under its freeze and
/// window cap; a session key's cap counts fees too.
pub fn pay_fee(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    fee_payer: Option<&Address>,
    fee: Amount,
    collector: &Address,
) -> Result<Event> {
    let payer = fee_payer.copied().unwrap_or(ctx.sender);
    if payer != ctx.sender {
        use_allowance(state, &payer, &ctx.sender, fee, ctx.height())?;
    } else if let Some(key) = ctx.session {
        charge_session(state, &payer, &key, fee)?;
    }
    if let Some(id) = machina_bank::account(state, &payer).auth.machine_id() {
        check_outflow(state, &payer, id, ctx, None, fee)?;
    }
    Ok(machina_bank::charge_fee(state, &payer, fee, collector)?)
}

fn use_allowance(
    state: &mut impl StateWrite,
    sponsor: &Address,
    grantee: &Address,
    fee: Amount,
    height: u64,
) -> Result<()> {
    let mut a = allowance(state, sponsor, grantee).ok_or(WalletError::NoAllowance {
        sponsor: *sponsor,
        grantee: *grantee,
    })?;
    if height > a.expiry_height {
        return Err(WalletError::AllowanceExpired(a.expiry_height));
    }
    a.remaining = a
        .remaining
        .checked_sub(fee)
        .ok_or(WalletError::AllowanceExceeded {
            remaining: a.remaining,
            fee,
        })?;
    state.set(keys::allowance(sponsor, grantee), a.encode());
    Ok(())
}

/// Whether `key` may act for `account` as a session key with these actions at `height`.
pub fn check_session(
    state: &impl StateRead,
    account: &Address,
    key: &PublicKey,
    actions: &[&str],
    height: u64,
) -> Result<()> {
    let s = session(state, account, key).ok_or(WalletError::NoSession(*account))?;
    let owner = machina_bank::account(state, account)
        .auth
        .machine_id()
        .and_then(|id| machina_identity::machine(state, id))
        .map(|m| m.owner);
    if owner != Some(s.granted_by) {
        // Granted by a previous owner: void since the machine changed hands.
        return Err(WalletError::NoSession(*account));
    }
    if height > s.expiry_height {
        return Err(WalletError::SessionExpired(s.expiry_height));
    }
    if let Some(a) = actions.iter().find(|a| !s.actions.iter().any(|g| g == *a)) {
        return Err(WalletError::SessionActionNotAllowed((*a).to_owned()));
    }
    Ok(())
}

/// Counts a refused spend against the machine that tried it.
pub fn record_breach(state: &mut impl StateWrite, account: &Address) {
    if let Some(id) = machina_bank::account(state, account).auth.machine_id() {
        machina_identity::update_reputation(state, id, |r| r.policy_breaches += 1);
    }
}

fn event(kind: &str, machine_id: u64) -> Event {
    Event::new("wallet", kind, &[("machine_id", machine_id.into())])
}

fn check_policy(p: &SpendPolicy) -> Result<()> {
    let bad = |s: &str| Err(WalletError::InvalidPolicy(s.to_owned()));
    if p.max_per_window.is_some() && p.window_blocks == 0 {
        return bad("a window cap needs window_blocks of at least 1");
    }
    if p.cooldown_above.is_some() && p.cooldown_blocks == 0 {
        return bad("a cooldown threshold needs cooldown_blocks of at least 1");
    }
    if p.allowlist.len() > MAX_ALLOWLIST {
        return Err(WalletError::InvalidPolicy(format!(
            "allowlist has {} entries, limit is {MAX_ALLOWLIST}",
            p.allowlist.len()
        )));
    }
    Ok(())
}

/// Sets a machine's spending policy (owner only). What it spent stays counted.
pub fn set_policy(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    policy: &SpendPolicy,
) -> Result<Event> {
    let m = machina_identity::owned_active(state, sender, machine_id)?;
    check_policy(policy)?;
    let mut w = wallet(state, &m.address).unwrap_or_default();
    if w.policy.window_blocks != policy.window_blocks {
        // Buckets are numbered by the window's length: a new length starts a new count,
        // which keeps the spend state within its bound.
        let mut s = spend_state(state, &m.address);
        s.buckets.clear();
        state.set(keys::spend(&m.address), s.encode());
    }
    w.policy = policy.clone();
    state.set(keys::policy(&m.address), w.encode());
    Ok(event("policy_set", machine_id))
}

/// Freezes or unfreezes a machine's wallet (owner only).
pub fn set_frozen(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    frozen: bool,
) -> Result<Event> {
    let m = machina_identity::owned_active(state, sender, machine_id)?;
    let mut w = wallet(state, &m.address).unwrap_or_default();
    w.frozen = frozen;
    state.set(keys::policy(&m.address), w.encode());
    Ok(event(
        if frozen { "frozen" } else { "unfrozen" },
        machine_id,
    ))
}

/// Moves a machine's whole balance to its owner (owner only; works frozen or revoked: it is
/// how an owner recovers funds from a compromised machine).
pub fn sweep(state: &mut impl StateWrite, sender: &Address, machine_id: u64) -> Result<Event> {
    let m = machina_identity::owned(state, sender, machine_id)?;
    let balance = machina_bank::account(state, &m.address).balance;
    if balance > Amount::ZERO {
        machina_bank::transfer(state, &m.address, &m.owner, balance)?;
    }
    Ok(Event::new(
        "wallet",
        "swept",
        &[
            ("machine_id", machine_id.into()),
            ("amount", balance.into()),
        ],
    ))
}

/// Grants a session key on a machine's account (owner only).
pub fn grant_session(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    key: &PublicKey,
    grant: Session,
    height: u64,
) -> Result<Event> {
    let m = machina_identity::owned_active(state, sender, machine_id)?;
    if let Some(a) = grant
        .actions
        .iter()
        .find(|a| a.len() > machina_primitives::limits::MAX_LABEL_BYTES)
    {
        return Err(WalletError::InvalidSession(format!(
            "action name of {} bytes is too long",
            a.len()
        )));
    }
    if grant.actions.is_empty() || grant.actions.len() > MAX_SESSION_ACTIONS {
        return Err(WalletError::InvalidSession(format!(
            "a session needs 1 to {MAX_SESSION_ACTIONS} actions"
        )));
    }
    if grant.expiry_height < height {
        return Err(WalletError::InvalidSession(format!(
            "expiry height {} is in the past",
            grant.expiry_height
        )));
    }
    state.set(keys::session(&m.address, key), grant.encode());
    Ok(event("session_granted", machine_id))
}

/// Withdraws a session key (owner only).
pub fn revoke_session(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    key: &PublicKey,
) -> Result<Event> {
    let m = machina_identity::owned(state, sender, machine_id)?;
    if session(state, &m.address, key).is_none() {
        return Err(WalletError::NoSession(m.address));
    }
    state.delete(keys::session(&m.address, key));
    Ok(event("session_revoked", machine_id))
}

fn check_members(members: &[PublicKey], threshold: u8) -> Result<()> {
    let mut sorted = members.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != members.len() {
        return Err(WalletError::InvalidMultisig("members repeat".into()));
    }
    if members.len() > MAX_MULTISIG_MEMBERS
        || threshold == 0
        || usize::from(threshold) > members.len()
    {
        return Err(WalletError::InvalidMultisig(format!(
            "need 1 <= threshold ({threshold}) <= members ({}) <= {MAX_MULTISIG_MEMBERS}",
            members.len()
        )));
    }
    Ok(())
}

/// The address of the multisig created by `creator` in its transaction with `nonce`, action
/// `index`.
pub fn multisig_address(creator: &Address, nonce: u64, index: u64) -> Address {
    Address::derive(&[
        b"machina/multisig/v1",
        &creator.0,
        &nonce.to_be_bytes(),
        &index.to_be_bytes(),
    ])
}

/// Creates an M-of-N multisig account at [`multisig_address`].
pub fn create_multisig(
    state: &mut impl StateWrite,
    address: &Address,
    members: &[PublicKey],
    threshold: u8,
) -> Result<Event> {
    check_members(members, threshold)?;
    if machina_bank::account(state, address) != machina_bank::Account::default() {
        return Err(WalletError::AccountExists(*address));
    }
    machina_bank::set_authorization(
        state,
        address,
        Authorization::Multisig {
            threshold,
            members: members.to_vec(),
        },
    );
    Ok(Event::new(
        "wallet",
        "multisig_created",
        &[
            ("address", address.into()),
            ("threshold", threshold.into()),
            ("members", members.len().into()),
        ],
    ))
}

/// Replaces the members of the sender multisig (which needed its threshold of signatures to
/// send this).
pub fn update_multisig(
    state: &mut impl StateWrite,
    sender: &Address,
    members: &[PublicKey],
    threshold: u8,
) -> Result<Event> {
    if !matches!(
        machina_bank::account(state, sender).auth,
        Authorization::Multisig { .. }
    ) {
        return Err(WalletError::NotMultisig(*sender));
    }
    check_members(members, threshold)?;
    machina_bank::set_authorization(
        state,
        sender,
        Authorization::Multisig {
            threshold,
            members: members.to_vec(),
        },
    );
    Ok(Event::new(
        "wallet",
        "multisig_updated",
        &[("address", sender.into())],
    ))
}

/// Lets the sender (`sponsor`) pay `grantee`'s fees up to `cap` until `expiry_height`.
pub fn grant_allowance(
    state: &mut impl StateWrite,
    sponsor: &Address,
    grantee: &Address,
    cap: Amount,
    expiry_height: u64,
    height: u64,
) -> Result<Event> {
    if sponsor == grantee {
        return Err(WalletError::InvalidAllowance(
            "a sponsor cannot sponsor itself".into(),
        ));
    }
    if expiry_height < height {
        return Err(WalletError::InvalidAllowance(format!(
            "expiry height {expiry_height} is in the past"
        )));
    }
    let a = Allowance {
        remaining: cap,
        expiry_height,
    };
    state.set(keys::allowance(sponsor, grantee), a.encode());
    Ok(Event::new(
        "wallet",
        "fee_allowance_granted",
        &[
            ("sponsor", sponsor.into()),
            ("grantee", grantee.into()),
            ("cap", cap.into()),
        ],
    ))
}

/// Withdraws a fee allowance.
pub fn revoke_allowance(
    state: &mut impl StateWrite,
    sponsor: &Address,
    grantee: &Address,
) -> Result<Event> {
    if allowance(state, sponsor, grantee).is_none() {
        return Err(WalletError::NoAllowance {
            sponsor: *sponsor,
            grantee: *grantee,
        });
    }
    state.delete(keys::allowance(sponsor, grantee));
    Ok(Event::new(
        "wallet",
        "fee_allowance_revoked",
        &[("grantee", grantee.into())],
    ))
}

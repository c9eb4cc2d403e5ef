//! Issuing a class, moving shares under its rules, forced transfers, the primary offering and
//! the rules themselves.

use crate::action::RulesChange;
use crate::records::{self, Offering, Position, Rules, ShareClass, CLASS};
use crate::revenue::{note_balance, settle};
use crate::{Result, SharesError, BPS, MAX_HOLDINGS, MAX_SUPPLY};
use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, Event};
use machina_state::StateWrite;

fn event(kind: &str, machine_id: u64, attrs: &[(&str, machina_primitives::AttrValue)]) -> Event {
    let mut e = Event::new("shares", kind, attrs);
    e.attrs.insert("machine_id".into(), machine_id.into());
    e
}

/// The class of a machine the sender owns (not revoked).
fn owned_class(state: &impl StateWrite, sender: &Address, machine_id: u64) -> Result<ShareClass> {
    machina_identity::owned_active(state, sender, machine_id)?;
    records::class(state, machine_id).ok_or(SharesError::NotIssued(machine_id))
}

/// The machine's owner issues `supply` shares and holds them all.
pub fn issue(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    machine_id: u64,
    supply: u64,
    operator_fee_bps: u16,
    forced_transfer: bool,
) -> Result<Event> {
    machina_identity::owned_active(state, &ctx.sender, machine_id)?;
    if records::class(state, machine_id).is_some() {
        return Err(SharesError::AlreadyIssued(machine_id));
    }
    check_issue(supply, operator_fee_bps)?;
    let mut c = ShareClass {
        machine_id,
        class: CLASS,
        supply,
        operator_fee_bps,
        max_operator_fee_bps: operator_fee_bps,
        forced_transfer,
        index: 0,
        dust: 0,
        holders: 0,
        rules: Rules::default(),
        offering: None,
        to_holders_total: Amount::ZERO,
        fees_total: Amount::ZERO,
        claimed_total: Amount::ZERO,
        issued_height: ctx.height(),
    };
    credit_shares(state, &mut c, &ctx.sender, supply)?;
    records::put_class(state, &c);
    Ok(event(
        "issued",
        machine_id,
        &[
            ("owner", ctx.sender.into()),
            ("supply", supply.into()),
            ("operator_fee_bps", u64::from(operator_fee_bps).into()),
            ("forced_transfer", u64::from(forced_transfer).into()),
        ],
    ))
}

/// The checks of an issue that need no state.
pub(crate) fn check_issue(supply: u64, operator_fee_bps: u16) -> Result<()> {
    if supply == 0 || supply > MAX_SUPPLY {
        return Err(SharesError::InvalidSupply(supply));
    }
    if operator_fee_bps > BPS {
        return Err(SharesError::InvalidFee(operator_fee_bps));
    }
    Ok(())
}

/// The sender moves `amount` of its shares to `to`, under the class's rules.
pub fn transfer(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    machine_id: u64,
    to: &Address,
    amount: u64,
) -> Result<Event> {
    let mut c = records::class(state, machine_id).ok_or(SharesError::NotIssued(machine_id))?;
    let owner = machina_identity::machine(state, machine_id).map(|m| m.owner);
    if owner != Some(ctx.sender) && ctx.height() < c.rules.lockup_until {
        return Err(SharesError::LockedUp {
            machine_id,
            until: c.rules.lockup_until,
        });
    }
    check_receiver(state, &c, owner, to)?;
    move_shares(state, &mut c, &ctx.sender, to, amount, true)?;
    records::put_class(state, &c);
    Ok(event(
        "transferred",
        machine_id,
        &[
            ("from", ctx.sender.into()),
            ("to", to.into()),
            ("amount", amount.into()),
        ],
    ))
}

/// The allowlist: only listed accounts and the owner may receive.
fn check_receiver(
    state: &impl StateWrite,
    c: &ShareClass,
    owner: Option<Address>,
    to: &Address,
) -> Result<()> {
    if c.rules.allowlist && owner != Some(*to) && !records::allowlisted(state, c.machine_id, to) {
        return Err(SharesError::NotAllowlisted(*to));
    }
    Ok(())
}

/// The owner moves shares from `from` to `to` whatever the rules, if the class has the power.
pub fn force_transfer(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    machine_id: u64,
    from: &Address,
    to: &Address,
    amount: u64,
) -> Result<Event> {
    let mut c = owned_class(state, &ctx.sender, machine_id)?;
    if !c.forced_transfer {
        return Err(SharesError::ForcedTransferDisabled(machine_id));
    }
    move_shares(state, &mut c, from, to, amount, false)?;
    // Forced shares may come out of the offering's reserve: it shrinks to what is left.
    if let Some(o) = c.offering.as_mut().filter(|o| o.seller == *from) {
        o.remaining = o
            .remaining
            .min(records::position(state, machine_id, from).balance);
    }
    records::put_class(state, &c);
    Ok(event(
        "forced_transfer",
        machine_id,
        &[
            ("by", ctx.sender.into()),
            ("from", from.into()),
            ("to", to.into()),
            ("amount", amount.into()),
        ],
    ))
}

/// Moves shares between two settled positions and keeps the holder count and holdings true.
/// With `ruled`, the holder limit applies and the sender's offered shares stay put.
fn move_shares(
    state: &mut impl StateWrite,
    c: &mut ShareClass,
    from: &Address,
    to: &Address,
    amount: u64,
    ruled: bool,
) -> Result<()> {
    if amount == 0 {
        return Err(SharesError::ZeroShares);
    }
    if from == to {
        return Err(SharesError::SelfTransfer(*from));
    }
    let m = c.machine_id;
    let mut src = records::position(state, m, from);
    let reserved = match &c.offering {
        Some(o) if ruled && o.seller == *from => o.remaining,
        _ => 0,
    };
    let free = src.balance.saturating_sub(reserved);
    if free < amount {
        return Err(SharesError::InsufficientShares {
            holder: *from,
            free,
            need: amount,
        });
    }
    let mut dst = records::position(state, m, to);
    let new_holder = dst.balance == 0;
    // Moving a whole position to a new holder replaces a holder: the count does not grow.
    let adds_holder = new_holder && src.balance > amount;
    if ruled && adds_holder && c.rules.max_holders != 0 && c.holders >= c.rules.max_holders {
        return Err(SharesError::TooManyHolders {
            machine_id: m,
            max: c.rules.max_holders,
        });
    }
    let (seq, _) = records::revenue_book(state, m);
    settle(&mut src, c.index);
    settle(&mut dst, c.index);
    let (src_left, dst_now) = (src.balance - amount, dst.balance + amount);
    note_balance(&mut src, seq, src_left);
    if dst.balance == 0 && dst.accrued == 0 {
        add_holding(state, m, to)?;
    }
    note_balance(&mut dst, seq, dst_now);
    if new_holder {
        c.holders += 1;
    }
    if src.balance == 0 {
        c.holders -= 1;
        if src.accrued == 0 {
            drop_holding(state, m, from);
        }
    }
    records::put_position(state, m, from, &src);
    records::put_position(state, m, to, &dst);
    Ok(())
}

/// Gives a fresh position its holder all of a new class's shares.
fn credit_shares(
    state: &mut impl StateWrite,
    c: &mut ShareClass,
    to: &Address,
    supply: u64,
) -> Result<()> {
    add_holding(state, c.machine_id, to)?;
    let mut p = Position::default();
    note_balance(&mut p, records::revenue_book(state, c.machine_id).0, supply);
    c.holders = 1;
    records::put_position(state, c.machine_id, to, &p);
    Ok(())
}

fn add_holding(state: &mut impl StateWrite, machine_id: u64, holder: &Address) -> Result<()> {
    let mut h = records::holdings_raw(state, holder);
    if h.contains(&(machine_id, CLASS)) {
        return Ok(());
    }
    if h.len() >= MAX_HOLDINGS {
        return Err(SharesError::TooManyHoldings(*holder));
    }
    h.push((machine_id, CLASS));
    records::put_holdings(state, holder, h);
    Ok(())
}

/// Forgets a position that holds nothing any more.
pub(crate) fn drop_holding(state: &mut impl StateWrite, machine_id: u64, holder: &Address) {
    let mut h = records::holdings_raw(state, holder);
    h.retain(|x| *x != (machine_id, CLASS));
    records::put_holdings(state, holder, h);
}

/// The owner opens (or replaces, or with `amount` 0 ends) a primary offering of its shares.
pub fn offer(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    machine_id: u64,
    amount: u64,
    price_per_share: Amount,
) -> Result<Event> {
    let mut c = owned_class(state, &ctx.sender, machine_id)?;
    let held = records::position(state, machine_id, &ctx.sender).balance;
    if amount > held {
        return Err(SharesError::InsufficientShares {
            holder: ctx.sender,
            free: held,
            need: amount,
        });
    }
    c.offering = (amount > 0).then_some(Offering {
        seller: ctx.sender,
        remaining: amount,
        price_per_share,
    });
    records::put_class(state, &c);
    Ok(event(
        "offered",
        machine_id,
        &[
            ("amount", amount.into()),
            ("price_per_share", price_per_share.into()),
        ],
    ))
}

/// Buys shares from the offering: the buyer pays the seller (under the buyer's wallet policy)
/// and the shares move, or neither happens.
pub fn buy(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    machine_id: u64,
    amount: u64,
    max_price_per_share: Amount,
) -> Result<Event> {
    let mut c = records::class(state, machine_id).ok_or(SharesError::NotIssued(machine_id))?;
    let o = c
        .offering
        .clone()
        .ok_or(SharesError::NoOffering(machine_id))?;
    if amount > o.remaining {
        return Err(SharesError::OfferingShort {
            left: o.remaining,
            asked: amount,
        });
    }
    if o.price_per_share > max_price_per_share {
        return Err(SharesError::PriceChanged {
            price: o.price_per_share,
            limit: max_price_per_share,
        });
    }
    let owner = machina_identity::machine(state, machine_id).map(|m| m.owner);
    check_receiver(state, &c, owner, &ctx.sender)?;
    let cost = Amount(
        o.price_per_share
            .0
            .checked_mul(u128::from(amount))
            .expect("price × shares fits: both are bounded"),
    );
    c.offering = None;
    move_shares(state, &mut c, &o.seller, &ctx.sender, amount, true)?;
    machina_wallet::pay(state, ctx, &ctx.sender, &o.seller, cost)?;
    let remaining = o.remaining - amount;
    c.offering = (remaining > 0).then_some(Offering { remaining, ..o });
    records::put_class(state, &c);
    Ok(event(
        "bought",
        machine_id,
        &[
            ("buyer", ctx.sender.into()),
            ("amount", amount.into()),
            ("cost", cost.into()),
        ],
    ))
}

/// The owner changes the rules, the allowlist, or lowers the fee.
pub fn set_rules(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    machine_id: u64,
    change: &RulesChange,
) -> Result<Event> {
    let mut c = owned_class(state, &ctx.sender, machine_id)?;
    if let Some(f) = change.operator_fee_bps {
        if f > c.max_operator_fee_bps {
            return Err(SharesError::FeeRaised {
                max: c.max_operator_fee_bps,
                asked: f,
            });
        }
        c.operator_fee_bps = f;
    }
    let r = &mut c.rules;
    r.allowlist = change.allowlist.unwrap_or(r.allowlist);
    r.lockup_until = change.lockup_until.unwrap_or(r.lockup_until);
    r.max_holders = change.max_holders.unwrap_or(r.max_holders);
    for a in &change.allow {
        records::set_allowed(state, machine_id, a, true);
    }
    for a in &change.disallow {
        records::set_allowed(state, machine_id, a, false);
    }
    let e = event(
        "rules_set",
        machine_id,
        &[
            ("allowlist", u64::from(c.rules.allowlist).into()),
            ("lockup_until", c.rules.lockup_until.into()),
            ("max_holders", u64::from(c.rules.max_holders).into()),
            ("operator_fee_bps", u64::from(c.operator_fee_bps).into()),
            ("allowed", (change.allow.len() as u64).into()),
            ("disallowed", (change.disallow.len() as u64).into()),
        ],
    );
    records::put_class(state, &c);
    Ok(e)
}

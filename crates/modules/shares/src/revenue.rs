//! Revenue: credited to a machine at O(1) whatever its number of holders, settled into a
//! holder's position when its balance changes, claimed in whole micro-units.

use crate::records::{self, Position, RevenueRecord, ShareClass, Source};
use crate::{pool_address, Result, SharesError, BPS, MAX_CLAIMS_PER_TX, MAX_HISTORY, PRECISION};
use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, BlockEnv, Event};
use machina_state::{StateRead, StateWrite};

/// Pays `amount` of revenue of `machine_id` from `from` (a market's escrow) and records where
/// it came from. The only revenue path: escrow returns, top-ups and transfers are not revenue.
///
/// Without shares the machine's account is paid. With shares the operator fee goes to the
/// machine's owner and the rest to the pool, raising the class index; the division's
/// remainder is carried as dust into the next event, so every micro-unit is accounted for.
/// Returns a `revenue` event when the machine has shares.
///
/// # Panics
/// If `from` does not hold `amount`: the markets pay only what their escrow holds.
pub fn credit(
    state: &mut impl StateWrite,
    env: &BlockEnv,
    machine_id: u64,
    from: &Address,
    amount: Amount,
    source: Source,
) -> Option<Event> {
    if amount == Amount::ZERO {
        return None;
    }
    let (seq, total) = records::revenue_book(state, machine_id);
    let mut rec = RevenueRecord {
        seq,
        height: env.height,
        time_ms: env.timestamp_ms,
        source,
        amount,
        operator_fee: amount,
        to_holders: Amount::ZERO,
        index_after: 0,
    };
    let event = match records::class(state, machine_id) {
        None => {
            let to = machina_identity::machine_address(machine_id);
            pay(state, from, &to, amount);
            None
        }
        Some(mut c) => {
            let e = split(state, &mut c, from, &mut rec);
            records::put_class(state, &c);
            Some(e)
        }
    };
    records::put_revenue(state, machine_id, &rec);
    let total = total.checked_add(amount).expect("bounded by the supply");
    records::put_book(state, machine_id, seq + 1, total);
    event
}

/// Splits one revenue event of a class: the fee to the owner, the rest into the index.
fn split(
    state: &mut impl StateWrite,
    c: &mut ShareClass,
    from: &Address,
    rec: &mut RevenueRecord,
) -> Event {
    let amount = rec.amount;
    let fee = Amount(amount.0 * u128::from(c.operator_fee_bps) / u128::from(BPS));
    let rest = amount
        .checked_sub(fee)
        .expect("the fee is at most all of it");
    let owner = machina_identity::machine(state, c.machine_id).map_or_else(
        || machina_identity::machine_address(c.machine_id),
        |m| m.owner,
    );
    pay(state, from, &owner, fee);
    pay(state, from, &pool_address(), rest);
    let total = rest
        .0
        .checked_mul(PRECISION)
        .and_then(|t| t.checked_add(c.dust))
        .expect("revenue × P fits: it is bounded by the supply of money");
    let supply = u128::from(c.supply);
    c.index = c
        .index
        .checked_add(total / supply)
        .expect("the index is bounded by the supply of money");
    c.dust = total % supply;
    c.fees_total = c.fees_total.checked_add(fee).expect("bounded");
    c.to_holders_total = c.to_holders_total.checked_add(rest).expect("bounded");
    rec.operator_fee = fee;
    rec.to_holders = rest;
    rec.index_after = c.index;
    Event::new(
        "shares",
        "revenue",
        &[
            ("machine_id", c.machine_id.into()),
            ("seq", rec.seq.into()),
            ("amount", amount.into()),
            ("operator_fee", fee.into()),
            ("to_holders", rest.into()),
        ],
    )
}

fn pay(state: &mut impl StateWrite, from: &Address, to: &Address, a: Amount) {
    if a > Amount::ZERO && from != to {
        machina_bank::transfer(state, from, to, a).expect("revenue is paid from what is held");
    }
}

/// Brings a position up to the class index: what its balance earned since it was last settled
/// is added to `accrued`, exactly (the index is an integer in P-units per share).
pub(crate) fn settle(p: &mut Position, index: u128) {
    let earned = u128::from(p.balance)
        .checked_mul(index - p.paid_index)
        .expect("a position's earnings are bounded by the pool");
    p.accrued = p.accrued.checked_add(earned).expect("bounded by the pool");
    p.paid_index = index;
}

/// Records that a position's balance is `balance` from revenue event `seq` on.
pub(crate) fn note_balance(p: &mut Position, seq: u64, balance: u64) {
    if p.history.is_empty() {
        p.since_seq = seq;
    }
    match p.history.last_mut() {
        Some(last) if last.0 == seq => last.1 = balance,
        _ => p.history.push((seq, balance)),
    }
    if p.history.len() > MAX_HISTORY {
        // The oldest balance is forgotten; what it earned stays in `accrued`, unlisted.
        p.history.remove(0);
        p.since_seq = p.history[0].0;
    }
    p.balance = balance;
}

/// What `holder` may claim of a machine now, in micro-units.
pub fn claimable(state: &impl StateRead, machine_id: u64, holder: &Address) -> Amount {
    records::class(state, machine_id).map_or(Amount::ZERO, |c| {
        claimable_of(&c, &records::position(state, machine_id, holder))
    })
}

/// What a position of class `c` may claim now, in micro-units.
pub fn claimable_of(c: &ShareClass, p: &Position) -> Amount {
    let mut p = p.clone();
    settle(&mut p, c.index);
    Amount(p.accrued / PRECISION)
}

/// Claims the sender's accrued revenue of one machine, or of all its holdings (at most
/// [`MAX_CLAIMS_PER_TX`] positions with something to claim, in the order it got them).
pub fn claim(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    machine_id: Option<u64>,
) -> Result<Vec<Event>> {
    let holder = ctx.sender;
    let machines = match machine_id {
        Some(m) => {
            records::class(state, m).ok_or(SharesError::NotIssued(m))?;
            vec![m]
        }
        None => records::holdings(state, &holder),
    };
    let mut events = Vec::new();
    for m in machines {
        if events.len() == MAX_CLAIMS_PER_TX {
            break;
        }
        events.extend(claim_one(state, m, &holder));
    }
    if events.is_empty() {
        return Err(SharesError::NothingToClaim(holder));
    }
    Ok(events)
}

fn claim_one(state: &mut impl StateWrite, machine_id: u64, holder: &Address) -> Option<Event> {
    let mut c = records::class(state, machine_id)?;
    let mut p = records::position(state, machine_id, holder);
    settle(&mut p, c.index);
    let paid = Amount(p.accrued / PRECISION);
    if paid == Amount::ZERO {
        return None;
    }
    p.accrued %= PRECISION;
    let (count, _) = records::revenue_book(state, machine_id);
    let from_seq = p.since_seq;
    p.history.clear();
    if p.balance > 0 {
        let balance = p.balance;
        note_balance(&mut p, count, balance);
    } else {
        // A position with no shares left would keep a fraction of a micro for ever: it joins
        // the class's dust, which the next revenue event hands to the holders then.
        c.dust = c.dust.checked_add(p.accrued).expect("bounded");
        p.accrued = 0;
        crate::transfer::drop_holding(state, machine_id, holder);
    }
    c.claimed_total = c.claimed_total.checked_add(paid).expect("bounded");
    pay(state, &pool_address(), holder, paid);
    records::put_position(state, machine_id, holder, &p);
    records::put_class(state, &c);
    Some(Event::new(
        "shares",
        "claimed",
        &[
            ("machine_id", machine_id.into()),
            ("holder", holder.into()),
            ("amount", paid.into()),
            ("from_seq", from_seq.into()),
            ("to_seq", count.into()),
        ],
    ))
}

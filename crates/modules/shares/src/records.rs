//! What the shares module stores: share classes, positions, each holder's holdings, allowlist
//! entries and every machine's revenue records, all under `shares/`.

use crate::{MAX_HISTORY, MAX_HOLDINGS};
use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Address, Amount, Decode, Encode};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Largest stored record of the module.
const MAX_RECORD_BYTES: usize = 16 * 1024;

/// The one class every machine has for now.
pub const CLASS: u8 = 0;

/// A share class of a machine. Its `u128`s are decimal strings in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct ShareClass {
    /// The machine.
    pub machine_id: u64,
    /// The class (0).
    pub class: u8,
    /// Shares, fixed at issue.
    pub supply: u64,
    /// The operator's cut of each revenue event, basis points.
    pub operator_fee_bps: u16,
    /// The fee it was issued with: the most the fee may ever be.
    pub max_operator_fee_bps: u16,
    /// Whether the owner may force transfers.
    pub forced_transfer: bool,
    /// Revenue per share so far, in micro × [`crate::PRECISION`].
    #[serde(with = "decimal")]
    pub index: u128,
    /// Revenue not yet in the index (less than one P-unit per share), in micro × P.
    #[serde(with = "decimal")]
    pub dust: u128,
    /// Accounts with a balance.
    pub holders: u32,
    /// The transfer rules.
    pub rules: Rules,
    /// The primary offering, if one is open.
    pub offering: Option<Offering>,
    /// Micro-units paid to holders (after the operator fee), ever.
    pub to_holders_total: Amount,
    /// Micro-units of operator fees, ever.
    pub fees_total: Amount,
    /// Micro-units claimed by holders, ever.
    pub claimed_total: Amount,
    /// The height it was issued at.
    pub issued_height: u64,
}

/// A class's transfer rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Rules {
    /// Only allowlisted accounts (and the owner) may receive shares.
    pub allowlist: bool,
    /// Holders other than the owner may not transfer before this height.
    pub lockup_until: u64,
    /// The most holders (0: no limit).
    pub max_holders: u32,
}

/// Shares the owner offers at a fixed price; they stay the owner's (and earn) until bought.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Offering {
    /// Who sells them and is paid: the owner when it opened the offering.
    pub seller: Address,
    /// Shares left.
    pub remaining: u64,
    /// Micro-units per share.
    pub price_per_share: Amount,
}

/// One account's shares of one class. Its `u128`s are decimal strings in JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Position {
    /// Shares.
    pub balance: u64,
    /// The class index when it was last settled.
    #[serde(with = "decimal")]
    pub paid_index: u128,
    /// Settled and not claimed, in micro × P.
    #[serde(with = "decimal")]
    pub accrued: u128,
    /// The first revenue event (sequence number) its unclaimed accruals come from.
    pub since_seq: u64,
    /// Its balance from each sequence number on since `since_seq`: (first seq, balance),
    /// bounded by [`MAX_HISTORY`] (older entries fold into `since_seq`).
    #[codec(max = MAX_HISTORY, what = "position history")]
    pub history: Vec<(u64, u64)>,
}

/// The classes an account has a position in, bounded by [`MAX_HOLDINGS`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub(crate) struct Holdings(
    #[codec(max = MAX_HOLDINGS, what = "holdings")] pub(crate) Vec<(u64, u8)>,
);

/// Where a revenue event came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[codec(what = "revenue source")]
pub enum Source {
    /// A seller's net payment for one interval of an energy zone.
    #[codec(tag = 0)]
    Energy {
        /// The zone.
        #[codec(max = MAX_LABEL_BYTES, what = "zone name")]
        zone: String,
        /// The interval's start, chain ms.
        interval_start_ms: u64,
        /// The ask order it settled.
        order_id: u64,
        /// Metered delivery counted, Wh.
        metered_wh: u64,
    },
    /// A compute lease's payment for a range of blocks.
    #[codec(tag = 1)]
    Compute {
        /// The job.
        job_id: u64,
        /// The lease's position in the job's leases.
        lease: u16,
        /// First block paid.
        from_height: u64,
        /// First block not paid.
        to_height: u64,
    },
}

/// One revenue event of a machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct RevenueRecord {
    /// Its sequence number among the machine's revenue events, from 0.
    pub seq: u64,
    /// The block.
    pub height: u64,
    /// The block's chain time, ms.
    pub time_ms: u64,
    /// Where it came from.
    pub source: Source,
    /// Micro-units earned.
    pub amount: Amount,
    /// The operator's fee out of it (all of it when no shares are issued).
    pub operator_fee: Amount,
    /// What went to the holders.
    pub to_holders: Amount,
    /// The class index after it (0 without shares): a holder's part of this event is
    /// `balance × (index_after − index before) / P`. A decimal string in JSON.
    #[serde(with = "decimal")]
    pub index_after: u128,
}

/// A machine's revenue so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub(crate) struct RevenueBook {
    /// Events recorded.
    pub(crate) count: u64,
    /// Micro-units, ever.
    pub(crate) total: Amount,
}

/// A `u128` as a decimal string in JSON: JSON numbers lose precision beyond 2^53.
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

pub(crate) mod keys {
    use machina_primitives::Address;

    fn class_key(prefix: &[u8], machine_id: u64, class: u8) -> Vec<u8> {
        [prefix, &machine_id.to_be_bytes(), &[class]].concat()
    }
    pub(crate) fn class(machine_id: u64, class: u8) -> Vec<u8> {
        class_key(b"shares/class/", machine_id, class)
    }
    pub(crate) fn position(machine_id: u64, class: u8, holder: &Address) -> Vec<u8> {
        [&positions(machine_id, class)[..], &holder.0].concat()
    }
    /// The prefix of a class's positions: each key is it and the holder's 20 bytes, so the
    /// store lists a class's positions in address order.
    pub(crate) fn positions(machine_id: u64, class: u8) -> Vec<u8> {
        class_key(b"shares/pos/", machine_id, class)
    }
    pub(crate) fn allow(machine_id: u64, class: u8, who: &Address) -> Vec<u8> {
        [&class_key(b"shares/allow/", machine_id, class)[..], &who.0].concat()
    }
    pub(crate) fn holdings(holder: &Address) -> Vec<u8> {
        [b"shares/holdings/".as_slice(), &holder.0].concat()
    }
    pub(crate) fn book(machine_id: u64) -> Vec<u8> {
        [b"shares/revbook/".as_slice(), &machine_id.to_be_bytes()].concat()
    }
    pub(crate) fn revenue(machine_id: u64, seq: u64) -> Vec<u8> {
        [
            b"shares/rev/".as_slice(),
            &machine_id.to_be_bytes(),
            &seq.to_be_bytes(),
        ]
        .concat()
    }
}

fn read<T: Decode>(state: &impl StateRead, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::decode_exact(&b, MAX_RECORD_BYTES).expect("shares wrote this record"))
}

/// The share class of a machine, if shares were issued.
pub fn class(state: &impl StateRead, machine_id: u64) -> Option<ShareClass> {
    read(state, &keys::class(machine_id, CLASS))
}

pub(crate) fn put_class(state: &mut impl StateWrite, c: &ShareClass) {
    state.set(keys::class(c.machine_id, c.class), c.encode());
}

/// `holder`'s position in a machine's class (empty if it has none).
pub fn position(state: &impl StateRead, machine_id: u64, holder: &Address) -> Position {
    read(state, &keys::position(machine_id, CLASS, holder)).unwrap_or_default()
}

pub(crate) fn put_position(
    state: &mut impl StateWrite,
    machine_id: u64,
    h: &Address,
    p: &Position,
) {
    let key = keys::position(machine_id, CLASS, h);
    if p.balance == 0 && p.accrued == 0 {
        state.delete(key);
    } else {
        state.set(key, p.encode());
    }
}

/// The machines `holder` has a position in, in the order it got them.
pub fn holdings(state: &impl StateRead, holder: &Address) -> Vec<u64> {
    read::<Holdings>(state, &keys::holdings(holder))
        .unwrap_or_default()
        .0
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

pub(crate) fn holdings_raw(state: &impl StateRead, holder: &Address) -> Vec<(u64, u8)> {
    read::<Holdings>(state, &keys::holdings(holder))
        .unwrap_or_default()
        .0
}

pub(crate) fn put_holdings(state: &mut impl StateWrite, holder: &Address, h: Vec<(u64, u8)>) {
    if h.is_empty() {
        state.delete(keys::holdings(holder));
    } else {
        state.set(keys::holdings(holder), Holdings(h).encode());
    }
}

/// Whether `who` is on a machine's allowlist.
pub fn allowlisted(state: &impl StateRead, machine_id: u64, who: &Address) -> bool {
    state.get(&keys::allow(machine_id, CLASS, who)).is_some()
}

pub(crate) fn set_allowed(state: &mut impl StateWrite, machine_id: u64, who: &Address, on: bool) {
    let key = keys::allow(machine_id, CLASS, who);
    if on {
        state.set(key, vec![1]);
    } else {
        state.delete(key);
    }
}

/// How many revenue events a machine has had and their total.
pub fn revenue_book(state: &impl StateRead, machine_id: u64) -> (u64, Amount) {
    let b: RevenueBook = read(state, &keys::book(machine_id)).unwrap_or_default();
    (b.count, b.total)
}

pub(crate) fn put_book(state: &mut impl StateWrite, machine_id: u64, count: u64, total: Amount) {
    state.set(
        keys::book(machine_id),
        RevenueBook { count, total }.encode(),
    );
}

/// A machine's revenue event `seq`.
pub fn revenue(state: &impl StateRead, machine_id: u64, seq: u64) -> Option<RevenueRecord> {
    read(state, &keys::revenue(machine_id, seq))
}

pub(crate) fn put_revenue(state: &mut impl StateWrite, machine_id: u64, r: &RevenueRecord) {
    state.set(keys::revenue(machine_id, r.seq), r.encode());
}

/// The first revenue event of a machine at or after chain time `ms` (its sequence number;
/// the count when there is none). Times grow with the sequence number, so this is a binary
/// search of O(log n) reads.
pub fn first_at_or_after(state: &impl StateRead, machine_id: u64, ms: u64) -> u64 {
    let (mut lo, mut hi) = (0, revenue_book(state, machine_id).0);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let t = revenue(state, machine_id, mid).map_or(u64::MAX, |r| r.time_ms);
        if t < ms {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

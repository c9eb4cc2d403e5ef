//! History indexes: which transactions touched an account or a machine, newest first. Their
//! entries wait in [`crate::pending`] and are flushed in the same redb transaction as a block,
//! so an index never names a block that is not there; a reader merges both.

use crate::{corrupt, Result};
use machina_primitives::{Address, Hash, Receipt};
use machina_stf::Transaction;
use redb::{ReadableTable, TableDefinition};
use std::collections::BTreeSet;

/// `address (20) || height (u64) || index (u32)`, no value: the id is in the block's locators.
pub(crate) const ACCOUNT_TXS: TableDefinition<&[u8], ()> = TableDefinition::new("account_history");
/// `machine id (u64) || height (u64) || index (u32)`, no value.
pub(crate) const MACHINE_TXS: TableDefinition<&[u8], ()> = TableDefinition::new("machine_history");

/// Most entries one history page returns.
pub const MAX_HISTORY_PAGE: usize = 200;

/// Where a transaction is: its block and position. Pages go newest first from a cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TxPosition {
    /// The block.
    pub height: u64,
    /// The position in it.
    pub index: u32,
}

/// One entry of a history page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Where the transaction is.
    pub at: TxPosition,
    /// Its id.
    pub hash: Hash,
}

/// The accounts a transaction touched: its sender, its fee payer and every address its
/// events name (receivers, owners, holders); and the machines its events name.
pub(crate) fn touched(tx: &Transaction, r: &Receipt) -> (Vec<Address>, Vec<u64>) {
    let mut accounts = vec![tx.body.sender];
    accounts.extend(tx.body.fee_payer);
    let mut machines = Vec::new();
    for e in &r.events {
        accounts.extend(e.named_accounts());
        machines.extend(e.machine_id());
    }
    accounts.sort_unstable();
    accounts.dedup();
    machines.sort_unstable();
    machines.dedup();
    (accounts, machines)
}

/// The index key of the transaction at `at` under `prefix` (an address or a machine id).
pub(crate) fn key(prefix: &[u8], at: TxPosition) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 12);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&at.height.to_be_bytes());
    k.extend_from_slice(&at.index.to_be_bytes());
    k
}

/// The position an index key ends with.
pub(crate) fn position(k: &[u8]) -> Option<TxPosition> {
    let tail = k.len().checked_sub(12).map(|n| &k[n..])?;
    let (h, i) = tail.split_at(8);
    Some(TxPosition {
        height: u64::from_be_bytes(h.try_into().ok()?),
        index: u32::from_be_bytes(i.try_into().ok()?),
    })
}

/// The key range of `prefix`'s entries strictly before `before` (all of them without it).
pub(crate) fn bounds(prefix: &[u8], before: Option<TxPosition>) -> (Vec<u8>, Vec<u8>) {
    let lo = key(
        prefix,
        TxPosition {
            height: 0,
            index: 0,
        },
    );
    let hi = key(
        prefix,
        before.unwrap_or(TxPosition {
            height: u64::MAX,
            index: u32::MAX,
        }),
    );
    (lo, hi)
}

/// Up to `limit` positions (and [`MAX_HISTORY_PAGE`]) in `lo..hi`, newest first, from the table
/// and the entries still waiting to be flushed (`waiting`, newest first).
pub(crate) fn page(
    t: &impl ReadableTable<&'static [u8], ()>,
    waiting: Vec<TxPosition>,
    (lo, hi): (&[u8], &[u8]),
    limit: usize,
) -> Result<Vec<TxPosition>> {
    let n = limit.min(MAX_HISTORY_PAGE);
    let mut found = BTreeSet::new();
    for e in t.range(lo..hi)?.rev().take(n) {
        let k = e?.0;
        found.insert(position(k.value()).ok_or_else(|| corrupt("history key", "too short"))?);
    }
    found.extend(waiting.into_iter().take(n));
    Ok(found.into_iter().rev().take(n).collect())
}

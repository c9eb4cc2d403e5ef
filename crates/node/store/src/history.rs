//! History indexes: which transactions touched an account or a machine, newest first. Written
//! in the same redb transaction as their block, so an index never names a block that is not
//! there, nor misses one that is.

use crate::Result;
use machina_primitives::{Address, Hash, Receipt};
use machina_stf::Transaction;
use redb::{ReadableTable, TableDefinition};
use std::collections::BTreeSet;

/// `address (20) || height (u64) || index (u32)` → transaction id.
pub(crate) const ACCOUNT_TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("account_txs");
/// `machine id (u64) || height (u64) || index (u32)` → transaction id.
pub(crate) const MACHINE_TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("machine_txs");

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
pub(crate) fn touched(tx: &Transaction, r: &Receipt) -> (BTreeSet<Address>, BTreeSet<u64>) {
    let mut accounts = BTreeSet::from([tx.body.sender]);
    accounts.extend(tx.body.fee_payer);
    let mut machines = BTreeSet::new();
    for e in &r.events {
        accounts.extend(e.named_accounts());
        machines.extend(e.machine_id());
    }
    (accounts, machines)
}

fn key(prefix: &[u8], at: TxPosition) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&at.height.to_be_bytes());
    k.extend_from_slice(&at.index.to_be_bytes());
    k
}

/// Writes the index entries of one transaction.
pub(crate) fn index(
    accounts: &mut redb::Table<'_, &[u8], &[u8]>,
    machines: &mut redb::Table<'_, &[u8], &[u8]>,
    at: TxPosition,
    hash: &Hash,
    tx: &Transaction,
    r: &Receipt,
) -> Result<()> {
    let (a, m) = touched(tx, r);
    for addr in a {
        accounts.insert(key(&addr.0, at).as_slice(), hash.0.as_slice())?;
    }
    for id in m {
        machines.insert(key(&id.to_be_bytes(), at).as_slice(), hash.0.as_slice())?;
    }
    Ok(())
}

/// Removes the index entries of one transaction (a dev chain's revert).
pub(crate) fn unindex(
    accounts: &mut redb::Table<'_, &[u8], &[u8]>,
    machines: &mut redb::Table<'_, &[u8], &[u8]>,
    at: TxPosition,
    tx: &Transaction,
    r: &Receipt,
) -> Result<()> {
    let (a, m) = touched(tx, r);
    for addr in a {
        accounts.remove(key(&addr.0, at).as_slice())?;
    }
    for id in m {
        machines.remove(key(&id.to_be_bytes(), at).as_slice())?;
    }
    Ok(())
}

/// Up to `limit` entries under `prefix`, newest first, strictly before `before` if given.
pub(crate) fn page(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    prefix: &[u8],
    before: Option<TxPosition>,
    limit: usize,
) -> Result<Vec<HistoryEntry>> {
    let lo = key(
        prefix,
        TxPosition {
            height: 0,
            index: 0,
        },
    );
    let hi = match before {
        Some(b) => key(prefix, b),
        None => key(
            prefix,
            TxPosition {
                height: u64::MAX,
                index: u32::MAX,
            },
        ),
    };
    let mut out = Vec::new();
    for e in t.range(lo.as_slice()..hi.as_slice())?.rev() {
        if out.len() == limit.min(MAX_HISTORY_PAGE) {
            break;
        }
        let (k, v) = e?;
        let k = k.value();
        let tail = &k[prefix.len()..];
        if tail.len() != 12 {
            return Err(crate::StoreError::Corrupt("a history key's length".into()));
        }
        let (h, i) = tail.split_at(8);
        let hash: [u8; 32] = v
            .value()
            .try_into()
            .map_err(|_| crate::StoreError::Corrupt("a history entry is not a tx id".into()))?;
        out.push(HistoryEntry {
            at: TxPosition {
                height: u64::from_be_bytes(h.try_into().expect("8 bytes")),
                index: u32::from_be_bytes(i.try_into().expect("4 bytes")),
            },
            hash: Hash(hash),
        });
    }
    Ok(out)
}

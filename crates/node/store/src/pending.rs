//! Index and state writes held in memory until they are flushed into their B-trees.
//!
//! The history indexes, the id index and the ordered state table are keyed by hashes and
//! addresses, so a block's entries land all over their B-trees: written per block, each commit
//! rewrote most of their pages (about 1.7 KB on disk per transfer). Everything in them follows
//! from the block bodies and each block's state writes (its state log), which are appended in
//! order and cost their own size. So a block's commit appends those, and its index and state
//! entries wait here; every [`FLUSH_BLOCKS`] blocks, or once [`FLUSH_ENTRIES`] entries or
//! [`FLUSH_BYTES`] wait, one block's commit also writes them all, in key order, and records
//! the height they are complete to (`flushed`). After a crash, [`crate::Store::open`] rebuilds
//! the index entries from the blocks after `flushed`, and the node executes those blocks again
//! on the state table (which is as of `flushed`) and hands their writes back
//! ([`crate::Store::restore_state`]), checking each block's state root on the way. So nothing
//! is lost and nothing is written twice.
//!
//! Readers take the lock, begin their read transaction and merge what is here, counting only
//! entries at or below the head their transaction sees: entries of a block are added before its
//! commit and removed after a flush commits, so what is here is always a superset of what the
//! tables lack.

use crate::history::{self, TxPosition};
use crate::Result;
use machina_primitives::{Hash, Receipt};
use machina_state::ChangeSet;
use machina_stf::Transaction;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// Most blocks whose entries wait: bounds what a restart replays.
pub const FLUSH_BLOCKS: u64 = 256;
/// Most entries that wait (ids, history entries and state keys).
pub const FLUSH_ENTRIES: usize = 262_144;
/// Most bytes of keys and values that wait: bounds the memory this takes.
pub const FLUSH_BYTES: usize = 64 * 1024 * 1024;

/// When waiting entries are flushed: whichever limit is reached first.
#[derive(Clone, Copy, Debug)]
pub struct FlushLimits {
    /// Blocks.
    pub blocks: u64,
    /// Entries.
    pub entries: usize,
    /// Bytes.
    pub bytes: usize,
}

impl Default for FlushLimits {
    fn default() -> Self {
        FlushLimits {
            blocks: FLUSH_BLOCKS,
            entries: FLUSH_ENTRIES,
            bytes: FLUSH_BYTES,
        }
    }
}

/// Key of the id index: the id's first 8 bytes, then where the transaction is.
pub(crate) type IdKey = (u64, u64, u32);

/// The first 8 bytes of an id, the id index's key prefix.
pub(crate) fn id_prefix(hash: &Hash) -> u64 {
    u64::from_be_bytes(hash.0[..8].try_into().expect("8 bytes"))
}

/// A key's value at its last write and at the write before it, each with its height: a reader
/// whose head is one block behind the newest write still finds its own value.
#[derive(Clone)]
struct Versions {
    now: (u64, Option<Vec<u8>>),
    before: Option<(u64, Option<Vec<u8>>)>,
}

/// What waits to be flushed.
#[derive(Default)]
pub(crate) struct Pending {
    /// Every block up to here is entirely in the tables.
    pub(crate) flushed: u64,
    limits: FlushLimits,
    blocks: u64,
    bytes: usize,
    pub(crate) ids: BTreeSet<IdKey>,
    /// History entries by account: `(address, height, index)`, in the table's key order.
    pub(crate) accounts: BTreeSet<([u8; 20], u64, u32)>,
    /// History entries by machine: `(machine id, height, index)`.
    pub(crate) machines: BTreeSet<(u64, u64, u32)>,
    state: BTreeMap<Vec<u8>, Versions>,
}

/// One transaction of a block, as the indexes see it.
pub(crate) struct Indexed<'a> {
    pub(crate) at: TxPosition,
    pub(crate) hash: &'a Hash,
    pub(crate) tx: &'a Transaction,
    pub(crate) receipt: &'a Receipt,
}

impl Pending {
    /// Nothing waits; the tables are complete up to `flushed`.
    pub(crate) fn new(flushed: u64, limits: FlushLimits) -> Pending {
        Pending {
            flushed,
            limits,
            ..Pending::default()
        }
    }

    /// Adds the entries of block `height`: its index entries and its state writes.
    pub(crate) fn add<'a>(
        &mut self,
        height: u64,
        txs: impl Iterator<Item = Indexed<'a>>,
        changes: &ChangeSet,
    ) {
        self.add_txs(txs);
        self.add_changes(height, changes);
    }

    /// Adds the index entries of one block.
    pub(crate) fn add_txs<'a>(&mut self, txs: impl Iterator<Item = Indexed<'a>>) {
        self.blocks += 1;
        for t in txs {
            self.ids
                .insert((id_prefix(t.hash), t.at.height, t.at.index));
            let (height, index) = (t.at.height, t.at.index);
            let (accounts, machines) = history::touched(t.tx, t.receipt);
            for a in accounts {
                self.accounts.insert((a.0, height, index));
            }
            for m in machines {
                self.machines.insert((m, height, index));
            }
            self.bytes += 20 + 64;
        }
    }

    /// Adds the state writes of block `height`.
    pub(crate) fn add_changes(&mut self, height: u64, changes: &ChangeSet) {
        for (k, v) in changes {
            self.bytes += k.len() + v.as_ref().map_or(0, Vec::len);
            let now = (height, v.clone());
            match self.state.get_mut(k) {
                Some(vs) => vs.before = Some(std::mem::replace(&mut vs.now, now)),
                None => {
                    self.state.insert(k.clone(), Versions { now, before: None });
                }
            }
        }
    }

    /// True when the entries should be flushed with this block.
    pub(crate) fn due(&self) -> bool {
        let entries = self.ids.len() + self.accounts.len() + self.machines.len() + self.state.len();
        let l = &self.limits;
        self.blocks >= l.blocks || entries >= l.entries || self.bytes >= l.bytes
    }

    /// Forgets the entries of blocks above `head`: their commit failed.
    pub(crate) fn drop_above(&mut self, head: u64) {
        self.ids.retain(|k| k.1 <= head);
        self.accounts.retain(|k| k.1 <= head);
        self.machines.retain(|k| k.1 <= head);
        self.state.retain(|_, vs| {
            if vs.now.0 <= head {
                return true;
            }
            match vs.before.take() {
                Some(b) => {
                    vs.now = b;
                    true
                }
                None => false,
            }
        });
    }

    /// Writes every waiting entry into its table, in key order.
    pub(crate) fn write_to(&self, w: &redb::WriteTransaction) -> Result<()> {
        let mut ids = w.open_table(crate::TX_IDS)?;
        for k in &self.ids {
            ids.insert(k, ())?;
        }
        let mut accounts = w.open_table(history::ACCOUNT_TXS)?;
        for &(a, height, index) in &self.accounts {
            let key = history::key(&a, TxPosition { height, index });
            accounts.insert(key.as_slice(), ())?;
        }
        let mut machines = w.open_table(history::MACHINE_TXS)?;
        for &(m, height, index) in &self.machines {
            let key = history::key(&m.to_be_bytes(), TxPosition { height, index });
            machines.insert(key.as_slice(), ())?;
        }
        let mut state = w.open_table(crate::STATE)?;
        for (k, vs) in &self.state {
            match &vs.now.1 {
                Some(v) => state.insert(k.as_slice(), v.as_slice())?,
                None => state.remove(k.as_slice())?,
            };
        }
        Ok(())
    }

    /// Positions of waiting transactions whose id starts like `hash`, up to `head`.
    pub(crate) fn id_candidates(&self, hash: &Hash, head: u64) -> Vec<(u64, u32)> {
        let p = id_prefix(hash);
        self.ids
            .range((p, 0, 0)..=(p, head, u32::MAX))
            .map(|k| (k.1, k.2))
            .collect()
    }

    /// Positions of the waiting history entries of `prefix` in `set`, strictly before `before`
    /// (all without it) and up to `head`, newest first, at most [`history::MAX_HISTORY_PAGE`].
    pub(crate) fn positions<P: Ord + Copy>(
        set: &BTreeSet<(P, u64, u32)>,
        prefix: P,
        before: Option<TxPosition>,
        head: u64,
    ) -> Vec<TxPosition> {
        let hi = before.map_or((prefix, u64::MAX, u32::MAX), |b| {
            (prefix, b.height, b.index)
        });
        set.range((Bound::Included((prefix, 0, 0)), Bound::Excluded(hi)))
            .rev()
            .filter(|k| k.1 <= head)
            .take(history::MAX_HISTORY_PAGE)
            .map(|k| TxPosition {
                height: k.1,
                index: k.2,
            })
            .collect()
    }

    /// The waiting value of `key` as of `head`: `None` when the table has it right.
    fn value_at(vs: &Versions, head: u64) -> Option<Option<&[u8]>> {
        if vs.now.0 <= head {
            return Some(vs.now.1.as_deref());
        }
        vs.before
            .as_ref()
            .filter(|b| b.0 <= head)
            .map(|b| b.1.as_deref())
    }

    /// Waiting state writes from `start` on, in key order, as of `head`: `Some(value)` sets,
    /// `None` deletes.
    pub(crate) fn state_from<'a>(
        &'a self,
        start: Bound<&[u8]>,
        head: u64,
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        self.state
            .range::<[u8], _>((start, Bound::Unbounded))
            .filter_map(move |(k, vs)| Some((k.as_slice(), Pending::value_at(vs, head)?)))
    }
}

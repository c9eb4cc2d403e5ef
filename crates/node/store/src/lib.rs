//! Machina store: blocks, receipts and state committed atomically to an embedded redb database.
//!
//! Layer 4. One redb write transaction per block holds the header, the block's body (its
//! transactions with their receipts, appended as a stream, see [`body`]), its state writes (a
//! state log) and the new head. redb commits with fsync and a copy-on-write B-tree, so after
//! `kill -9` at any moment the database holds the last committed block entirely and nothing of
//! the next. The indexes (by id, by account, by machine) and the ordered state table are filled
//! in batches from what the blocks hold ([`pending`]), so a block costs about its own size on
//! disk instead of a rewrite of every index page it touches.

pub use history::{HistoryEntry, TxPosition, MAX_HISTORY_PAGE};
use history::{ACCOUNT_TXS, MACHINE_TXS};
use machina_primitives::codec::{put_vec, Decode, Encode, Reader};
use machina_primitives::limits::{MAX_BLOCK_EVENTS, MAX_BLOCK_TXS};
use machina_primitives::Address;
use machina_primitives::{BlockHeader, Event, Hash, Receipt};
use machina_state::ChangeSet;
use machina_stf::Transaction;
pub use pending::{FlushLimits, FLUSH_BLOCKS, FLUSH_BYTES, FLUSH_ENTRIES};
use pending::{Indexed, Pending};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use stream::StreamTable;
use thiserror::Error;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
const BLOCK_HEIGHTS: TableDefinition<&[u8], u64> = TableDefinition::new("block_heights");
/// Each block's records (transactions with their receipts), see [`body`].
const BODIES: StreamTable = TableDefinition::new("bodies");
/// Each block's locators: a transaction's id and where its record ends.
const LOCATORS: StreamTable = TableDefinition::new("locators");
/// The id index: `(first 8 bytes of the id, height, index)`, checked against the locator.
const TX_IDS: TableDefinition<pending::IdKey, ()> = TableDefinition::new("tx_ids");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const BLOCK_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_events");

mod body;
mod compact;
mod history;
mod pending;
mod range;
mod revert;
mod stream;
pub use range::{KeysPage, MAX_STATE_KEYS_PAGE};

const HEAD: &str = "head";
const GENESIS: &str = "genesis";
/// Height up to which the indexes and the state table are complete.
const FLUSHED: &str = "flushed";
/// Layout version of the tables.
const FORMAT: &str = "format";
/// This build's layout: block bodies as streams, indexes flushed in batches.
const FORMAT_VERSION: u64 = 2;

/// Why the store failed. Any of these on a write means the node must stop: it cannot know
/// what reached the disk.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Db(String),
    /// Stored bytes did not decode: the file is damaged or from another version.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The block does not extend the head.
    #[error("block {got} does not extend head {head}")]
    NotNext {
        /// Current head.
        head: u64,
        /// Height offered.
        got: u64,
    },
}

/// Result alias of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
db_err!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A transaction as stored: where it is and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// Height of the block that includes it.
    pub height: u64,
    /// Position in that block.
    pub index: u32,
    /// The transaction.
    pub tx: Transaction,
    /// Its receipt.
    pub receipt: Receipt,
}

/// A block as committed: the header, the transactions and their receipts.
pub struct CommittedBlock<'a> {
    /// The header (its state root is the root after `changes`).
    pub header: &'a BlockHeader,
    /// Transactions in block order, with their ids.
    pub txs: &'a [(Hash, &'a Transaction)],
    /// One receipt per transaction.
    pub receipts: &'a [Receipt],
    /// The block's state writes.
    pub changes: &'a ChangeSet,
    /// Events of the modules' block hooks (clearing, settlement, ...).
    pub events: &'a [Event],
    /// The state writes do not all follow from executing the block (a dev chain's set
    /// balance): everything waiting is flushed with it, since a restart could not recompute
    /// them.
    pub forced: bool,
}

/// The node's database. Clones share it and what waits to be flushed; a simulation that
/// restarts a node on the same disk takes [`Store::reopened`].
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    pending: Arc<RwLock<Pending>>,
    limits: FlushLimits,
}

/// The database's page cache. redb's default is 1 GiB, which a node fills after a flood and
/// keeps: its resident memory then stays near a gigabyte with nothing to do. The node reads
/// back little (the state lives in memory; blocks and history are read on request), so a
/// small cache costs little; see docs/memory.md.
pub const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

impl Store {
    /// Opens or creates the database at `path`, with a page cache of [`STORE_CACHE_BYTES`].
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with(path, FlushLimits::default())
    }

    /// [`Store::open`] with other flush limits.
    pub fn open_with(path: &Path, limits: FlushLimits) -> Result<Store> {
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(path)?;
        Store::with_tables(Arc::new(db), limits)
    }

    /// A database in memory, for simulations and tests.
    pub fn in_memory() -> Result<Store> {
        Store::in_memory_with(FlushLimits::default())
    }

    /// [`Store::in_memory`] with other flush limits.
    pub fn in_memory_with(limits: FlushLimits) -> Result<Store> {
        let db = redb::Builder::new().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Store::with_tables(Arc::new(db), limits)
    }

    /// The same database as a process starting again on it would see it: what waited to be
    /// flushed is rebuilt from the committed blocks.
    pub fn reopened(&self) -> Result<Store> {
        Store::with_tables(self.db.clone(), self.limits)
    }

    fn with_tables(db: Arc<Database>, limits: FlushLimits) -> Result<Store> {
        let w = db.begin_write()?;
        {
            let mut meta = w.open_table(META)?;
            let format = meta
                .get(FORMAT)?
                .map(|v| decode_u64(v.value()))
                .transpose()?;
            let started = meta.get(HEAD)?.is_some();
            match format {
                Some(FORMAT_VERSION) => {}
                None if !started => {
                    meta.insert(FORMAT, FORMAT_VERSION.to_be_bytes().as_slice())?;
                }
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "the data directory was written by another version of Machina (store \
                         format {}, this build reads {FORMAT_VERSION}); start with a new data \
                         directory",
                        other.unwrap_or(1)
                    )))
                }
            }
            // Create every table so that readers never see a missing one.
            w.open_table(HEADERS)?;
            w.open_table(BLOCK_HEIGHTS)?;
            w.open_table(BODIES)?;
            w.open_table(LOCATORS)?;
            w.open_table(TX_IDS)?;
            w.open_table(STATE)?;
            w.open_table(BLOCK_EVENTS)?;
            w.open_table(ACCOUNT_TXS)?;
            w.open_table(MACHINE_TXS)?;
        }
        w.commit()?;
        let pending = rebuild(&db, limits)?;
        Ok(Store {
            db,
            pending: Arc::new(RwLock::new(pending)),
            limits,
        })
    }

    fn waiting(&self) -> RwLockReadGuard<'_, Pending> {
        // A panic while holding the lock leaves nothing half-written that readers could see:
        // entries are added and removed whole.
        self.pending.read().unwrap_or_else(|e| e.into_inner())
    }

    fn waiting_mut(&self) -> RwLockWriteGuard<'_, Pending> {
        self.pending.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Height of the last committed block, or `None` before genesis was written.
    pub fn head(&self) -> Result<Option<u64>> {
        head_of(&self.db.begin_read()?)
    }

    /// The genesis document as written by [`Store::init`].
    pub fn genesis(&self) -> Result<Option<Vec<u8>>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(META)?;
        let v = t.get(GENESIS)?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    /// Writes the genesis document, the genesis header (height 0) and state, and sets the
    /// head to 0, in one transaction.
    pub fn init(&self, genesis: &[u8], header: &BlockHeader, changes: &ChangeSet) -> Result<()> {
        assert_eq!(header.height, 0, "the genesis header has height 0");
        let w = self.db.begin_write()?;
        {
            w.open_table(HEADERS)?
                .insert(0, header.encode().as_slice())?;
            w.open_table(BLOCK_HEIGHTS)?
                .insert(header.hash().0.as_slice(), 0)?;
            let mut meta = w.open_table(META)?;
            meta.insert(GENESIS, genesis)?;
            meta.insert(HEAD, 0u64.to_be_bytes().as_slice())?;
            meta.insert(FLUSHED, 0u64.to_be_bytes().as_slice())?;
            write_state(&mut w.open_table(STATE)?, changes)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Commits a block, its receipts and its state writes in one durable transaction. Its
    /// index entries and state writes also wait in memory, and go into their tables with the
    /// block that reaches a [`FlushLimits`] limit.
    pub fn commit_block(&self, b: &CommittedBlock<'_>) -> Result<()> {
        assert_eq!(b.txs.len(), b.receipts.len(), "one receipt per transaction");
        let height = b.header.height;
        let (bodies, locators) = body::encode(b.txs, b.receipts);
        let w = self.db.begin_write()?;
        // The head is read inside the write transaction that moves it.
        let head = match head_of_write(&w)? {
            Some(h) => h,
            None => {
                return Err(StoreError::Corrupt(
                    "no genesis: the store was never initialised".into(),
                ))
            }
        };
        if height != head + 1 {
            return Err(StoreError::NotNext { head, got: height });
        }
        let flush = {
            let mut p = self.waiting_mut();
            p.add(height, indexed(height, b.txs, b.receipts), b.changes);
            // Writes that executing the block again would not give must not wait.
            b.forced || p.due()
        };
        let written = self.write_block(&w, b, (&bodies, &locators), flush);
        let committed = written.and_then(|()| Ok(w.commit()?));
        let mut p = self.waiting_mut();
        match committed {
            Ok(()) if flush => *p = Pending::new(height, self.limits),
            Ok(()) => {}
            Err(e) => {
                p.drop_above(head);
                return Err(e);
            }
        }
        Ok(())
    }

    fn write_block(
        &self,
        w: &redb::WriteTransaction,
        b: &CommittedBlock<'_>,
        (bodies, locators): (&[u8], &[u8]),
        flush: bool,
    ) -> Result<()> {
        let height = b.header.height;
        w.open_table(HEADERS)?
            .insert(height, b.header.encode().as_slice())?;
        w.open_table(BLOCK_HEIGHTS)?
            .insert(b.header.hash().0.as_slice(), height)?;
        stream::put(&mut w.open_table(BODIES)?, height, bodies)?;
        stream::put(&mut w.open_table(LOCATORS)?, height, locators)?;
        if !b.events.is_empty() {
            let mut ev = Vec::new();
            put_vec(&mut ev, b.events);
            w.open_table(BLOCK_EVENTS)?.insert(height, ev.as_slice())?;
        }
        let mut meta = w.open_table(META)?;
        if flush {
            let p = self.waiting();
            p.write_to(w)?;
            meta.insert(FLUSHED, height.to_be_bytes().as_slice())?;
        }
        meta.insert(HEAD, height.to_be_bytes().as_slice())?;
        Ok(())
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> Result<Option<BlockHeader>> {
        let r = self.db.begin_read()?;
        read_header(&r.open_table(HEADERS)?, height)
    }

    /// Height of the block with this hash.
    pub fn height_of(&self, block_hash: &Hash) -> Result<Option<u64>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCK_HEIGHTS)?;
        let v = t.get(block_hash.0.as_slice())?;
        Ok(v.map(|v| v.value()))
    }

    /// Ids of the transactions of the block at `height`, in order.
    pub fn block_tx_hashes(&self, height: u64) -> Result<Vec<Hash>> {
        let r = self.db.begin_read()?;
        let bytes = stream::read_all(&r.open_table(LOCATORS)?, height)?;
        let locs = body::locators(&bytes)?;
        if locs.len() > MAX_BLOCK_TXS {
            return Err(StoreError::Corrupt(format!("tx list of block {height}")));
        }
        Ok(locs.into_iter().map(|(h, _)| h).collect())
    }

    /// The transactions of the block at `height`, in order (none for a block without any).
    pub fn block_txs(&self, height: u64) -> Result<Vec<Transaction>> {
        let r = self.db.begin_read()?;
        let (bodies, locs) = (r.open_table(BODIES)?, r.open_table(LOCATORS)?);
        Ok(body::all(&bodies, &locs, height)?
            .into_iter()
            .map(|(_, tx, _)| tx)
            .collect())
    }

    /// The events of the block hooks at `height` (none for a block without any).
    pub fn block_events(&self, height: u64) -> Result<Vec<Event>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(BLOCK_EVENTS)?;
        let Some(v) = t.get(height)? else {
            return Ok(Vec::new());
        };
        let mut rd = Reader::new(v.value());
        let events = rd
            .vec("block events", MAX_BLOCK_EVENTS)
            .map_err(|e| StoreError::Corrupt(format!("events of block {height}: {e}")))?;
        rd.finish()
            .map_err(|e| StoreError::Corrupt(format!("events of block {height}: {e}")))?;
        Ok(events)
    }

    /// A transaction with its receipt and position.
    pub fn tx(&self, hash: &Hash) -> Result<Option<TxRecord>> {
        let (r, mut candidates) = {
            let p = self.waiting();
            let r = self.db.begin_read()?;
            let head = head_of(&r)?.unwrap_or(0);
            let c = p.id_candidates(hash, head);
            (r, c)
        };
        let prefix = pending::id_prefix(hash);
        for e in r
            .open_table(TX_IDS)?
            .range((prefix, 0, 0)..=(prefix, u64::MAX, u32::MAX))?
        {
            let k = e?.0.value();
            candidates.push((k.1, k.2));
        }
        let (locs, bodies) = (r.open_table(LOCATORS)?, r.open_table(BODIES)?);
        for (height, index) in candidates {
            let Some((id, start, end)) = body::locate(&locs, height, index)? else {
                continue;
            };
            if id == *hash {
                let bytes = stream::read(&bodies, height, start, end)?;
                let (tx, receipt) = body::record(&bytes, id)?;
                return Ok(Some(TxRecord {
                    height,
                    index,
                    tx,
                    receipt,
                }));
            }
        }
        Ok(None)
    }

    /// The transactions that touched `account` (sent, paid the fee of, or named in their
    /// events), newest first, strictly before `before`, at most `limit` (and
    /// [`MAX_HISTORY_PAGE`]).
    pub fn account_txs(
        &self,
        account: &Address,
        before: Option<TxPosition>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>> {
        let waiting = |p: &Pending, head| Pending::positions(&p.accounts, account.0, before, head);
        self.history(ACCOUNT_TXS, waiting, &account.0, before, limit)
    }

    /// The transactions whose events name machine `id`, newest first, as
    /// [`Store::account_txs`].
    pub fn machine_txs(
        &self,
        id: u64,
        before: Option<TxPosition>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>> {
        let waiting = |p: &Pending, head| Pending::positions(&p.machines, id, before, head);
        self.history(MACHINE_TXS, waiting, &id.to_be_bytes(), before, limit)
    }

    fn history(
        &self,
        table: TableDefinition<&[u8], ()>,
        waiting: impl FnOnce(&Pending, u64) -> Vec<TxPosition>,
        prefix: &[u8],
        before: Option<TxPosition>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>> {
        let (lo, hi) = history::bounds(prefix, before);
        let (r, positions) = {
            let p = self.waiting();
            let r = self.db.begin_read()?;
            let head = head_of(&r)?.unwrap_or(0);
            let t = r.open_table(table)?;
            let positions = history::page(&t, waiting(&p, head), (&lo, &hi), limit)?;
            (r, positions)
        };
        let locs = r.open_table(LOCATORS)?;
        positions
            .into_iter()
            .map(|at| {
                let (hash, _, _) = body::locate(&locs, at.height, at.index)?
                    .ok_or_else(|| corrupt("history entry", format!("{at:?}")))?;
                Ok(HistoryEntry { at, hash })
            })
            .collect()
    }

    /// The height the state table is as of when the store opens: the node executes the blocks
    /// after it again and hands their writes to [`Store::restore_state`].
    pub fn flushed(&self) -> u64 {
        self.waiting().flushed
    }

    /// The state writes of block `height` (above [`Store::flushed`]), recomputed by executing
    /// it again after a restart, in block order.
    pub fn restore_state(&self, height: u64, changes: &ChangeSet) {
        self.waiting_mut().add_changes(height, changes);
    }

    /// Every state entry, for rebuilding the in-memory authenticated state on start: as of
    /// [`Store::flushed`] right after opening, as of the head once the blocks above it were
    /// restored.
    pub fn state_entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let p = self.waiting();
        let r = self.db.begin_read()?;
        let head = head_of(&r)?.unwrap_or(0);
        let t = r.open_table(STATE)?;
        let mut out = Vec::with_capacity(usize::try_from(t.len()?).unwrap_or(0));
        let waiting = p.state_from(std::ops::Bound::Unbounded, head);
        for e in range::merged(t.iter()?, waiting) {
            out.push(e?);
        }
        Ok(out)
    }
}

/// What waits to be flushed after the last flush: the index entries of the blocks above it,
/// read back. Their state writes come back through [`Store::restore_state`].
fn rebuild(db: &Database, limits: FlushLimits) -> Result<Pending> {
    let r = db.begin_read()?;
    let meta = r.open_table(META)?;
    let flushed = meta
        .get(FLUSHED)?
        .map(|v| decode_u64(v.value()))
        .transpose()?;
    let head = head_of(&r)?;
    let mut p = Pending::new(flushed.unwrap_or(0), limits);
    let (bodies, locs) = (r.open_table(BODIES)?, r.open_table(LOCATORS)?);
    for h in p.flushed + 1..=head.unwrap_or(0) {
        let records = body::all(&bodies, &locs, h)?;
        let txs: Vec<(Hash, &Transaction)> = records.iter().map(|(h, t, _)| (*h, t)).collect();
        let receipts: Vec<Receipt> = records.iter().map(|(_, _, r)| r.clone()).collect();
        p.add_txs(indexed(h, &txs, &receipts));
    }
    Ok(p)
}

/// A block's transactions as the indexes see them.
fn indexed<'a>(
    height: u64,
    txs: &'a [(Hash, &'a Transaction)],
    receipts: &'a [Receipt],
) -> impl Iterator<Item = Indexed<'a>> + 'a {
    txs.iter()
        .zip(receipts)
        .enumerate()
        .map(move |(i, ((hash, tx), receipt))| Indexed {
            at: TxPosition {
                height,
                index: u32::try_from(i).expect("a block's transactions are bounded"),
            },
            hash,
            tx,
            receipt,
        })
}

fn head_of(r: &redb::ReadTransaction) -> Result<Option<u64>> {
    let t = r.open_table(META)?;
    let v = t.get(HEAD)?;
    v.map(|v| decode_u64(v.value())).transpose()
}

fn head_of_write(w: &redb::WriteTransaction) -> Result<Option<u64>> {
    let t = w.open_table(META)?;
    let v = t.get(HEAD)?;
    v.map(|v| decode_u64(v.value())).transpose()
}

fn read_header(
    t: &impl ReadableTable<u64, &'static [u8]>,
    height: u64,
) -> Result<Option<BlockHeader>> {
    let v = t.get(height)?;
    v.map(|v| BlockHeader::decode_exact(v.value(), 1024).map_err(|e| corrupt("header", e)))
        .transpose()
}

fn write_state(t: &mut redb::Table<'_, &[u8], &[u8]>, changes: &ChangeSet) -> Result<()> {
    for (k, v) in changes {
        match v {
            Some(v) => t.insert(k.as_slice(), v.as_slice())?,
            None => t.remove(k.as_slice())?,
        };
    }
    Ok(())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn decode_u64(b: &[u8]) -> Result<u64> {
    b.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt("head", "not 8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_bank::BankAction;
    use machina_primitives::{Address, Amount, Keypair};
    use machina_stf::TxBody;

    /// A header at `height` with zero roots, for the store's tests.
    pub(crate) fn header(height: u64) -> BlockHeader {
        BlockHeader {
            chain_id: 1,
            height,
            parent_hash: Hash::ZERO,
            timestamp_ms: height * 100,
            proposer: Address::default(),
            tx_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            state_root: Hash::ZERO,
        }
    }

    #[test]
    fn a_committed_block_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        let k = Keypair::dev("alice");
        let tx = TxBody {
            chain_id: 1,
            sender: k.address(),
            nonce: 0,
            fee: Amount(1),
            expiry_height: 9,
            fee_payer: None,
            actions: vec![BankAction::Transfer {
                to: Address([2; 20]),
                amount: Amount(5),
            }
            .into()],
        }
        .sign(&[&k]);
        let receipt = Receipt {
            tx_hash: tx.hash(),
            success: true,
            error: None,
            fee_charged: Amount(1),
            events: vec![],
        };
        let mut changes = ChangeSet::new();
        changes.insert(b"k".to_vec(), Some(b"v".to_vec()));
        {
            let s = Store::open(&path).expect("open");
            s.init(b"{}", &header(0), &ChangeSet::new()).expect("init");
            let h = header(1);
            s.commit_block(&CommittedBlock {
                header: &h,
                txs: &[(tx.hash(), &tx)],
                receipts: std::slice::from_ref(&receipt),
                changes: &changes,
                events: &[machina_primitives::Event::new(
                    "energy",
                    "interval_cleared",
                    &[("volume_wh", 5u64.into())],
                )],
                forced: false,
            })
            .expect("commit");
        }
        let s = Store::open(&path).expect("reopen");
        assert_eq!(s.head().expect("head"), Some(1));
        assert_eq!(s.header(1).expect("header"), Some(header(1)));
        assert_eq!(s.block_tx_hashes(1).expect("ids"), vec![tx.hash()]);
        let events = s.block_events(1).expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].attrs["volume_wh"].as_u64(), Some(5));
        assert!(s.block_events(0).expect("none").is_empty());
        let rec = s.tx(&tx.hash()).expect("tx").expect("present");
        assert_eq!((rec.height, rec.index, rec.receipt), (1, 0, receipt));
        assert_eq!(s.block_txs(1).expect("txs"), vec![tx]);
        // The state table is as of the last flush (genesis) until block 1 is given back.
        assert_eq!(s.flushed(), 0);
        assert!(s.state_entries().expect("state").is_empty());
        s.restore_state(1, &changes);
        assert_eq!(
            s.state_entries().expect("state"),
            vec![(b"k".to_vec(), b"v".to_vec())]
        );
    }

    #[test]
    fn a_block_that_skips_a_height_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("db.redb")).expect("open");
        s.init(b"{}", &header(0), &ChangeSet::new()).expect("init");
        let h = header(2);
        let err = s
            .commit_block(&CommittedBlock {
                header: &h,
                txs: &[],
                receipts: &[],
                changes: &ChangeSet::new(),
                events: &[],
                forced: false,
            })
            .err();
        assert!(matches!(err, Some(StoreError::NotNext { head: 0, got: 2 })));
    }
}

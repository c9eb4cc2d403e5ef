//! Machina store: blocks, receipts and state committed atomically to an embedded redb database.
//!
//! Layer 4. One redb write transaction per block holds the header, the transaction records with
//! their receipts, the state writes and the new head. redb commits with fsync and a
//! copy-on-write B-tree, so after `kill -9` at any moment the database holds the last committed
//! block entirely and nothing of the next.

pub use history::{HistoryEntry, TxPosition, MAX_HISTORY_PAGE};
use history::{ACCOUNT_TXS, MACHINE_TXS};
use machina_primitives::codec::{put_var_bytes, put_vec, Decode, Encode, Reader};
use machina_primitives::limits::{MAX_BLOCK_EVENTS, MAX_BLOCK_TXS, MAX_TX_BYTES};
use machina_primitives::Address;
use machina_primitives::{BlockHeader, Event, Hash, Receipt};
use machina_state::ChangeSet;
use machina_stf::Transaction;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const HEADERS: TableDefinition<u64, &[u8]> = TableDefinition::new("headers");
const BLOCK_TXS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_txs");
const BLOCK_HEIGHTS: TableDefinition<&[u8], u64> = TableDefinition::new("block_heights");
const TXS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txs");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const BLOCK_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_events");

mod history;
mod range;
pub use range::{KeysPage, MAX_STATE_KEYS_PAGE};

const HEAD: &str = "head";
const GENESIS: &str = "genesis";

/// Largest stored receipt: bounded by the receipt limits, with room.
const MAX_RECEIPT_BYTES: usize = 4 * 1024 * 1024;

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
}

/// The node's database. Clones share it: a validator simulation keeps one clone across a
/// simulated crash, as the disk outlives the process.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

/// The database's page cache. redb's default is 1 GiB, which a node fills after a flood and
/// keeps: its resident memory then stays near a gigabyte with nothing to do. The node reads
/// back little (the state lives in memory; blocks and history are read on request), so a
/// small cache costs little; see docs/memory.md.
pub const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

impl Store {
    /// Opens or creates the database at `path`, with a page cache of [`STORE_CACHE_BYTES`].
    pub fn open(path: &Path) -> Result<Store> {
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(path)?;
        Store::with_tables(db)
    }

    /// A database in memory, for simulations and tests.
    pub fn in_memory() -> Result<Store> {
        let db = redb::Builder::new().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Store::with_tables(db)
    }

    fn with_tables(db: Database) -> Result<Store> {
        let w = db.begin_write()?;
        // Create every table so that readers never see a missing one.
        w.open_table(META)?;
        w.open_table(HEADERS)?;
        w.open_table(BLOCK_TXS)?;
        w.open_table(BLOCK_HEIGHTS)?;
        w.open_table(TXS)?;
        w.open_table(STATE)?;
        w.open_table(ACCOUNT_TXS)?;
        w.open_table(MACHINE_TXS)?;
        w.commit()?;
        Ok(Store { db: Arc::new(db) })
    }

    /// Height of the last committed block, or `None` before genesis was written.
    pub fn head(&self) -> Result<Option<u64>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(META)?;
        let v = t.get(HEAD)?;
        v.map(|v| decode_u64(v.value())).transpose()
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
            write_state(&mut w.open_table(STATE)?, changes)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Commits a block, its receipts and its state writes in one durable transaction.
    pub fn commit_block(&self, b: &CommittedBlock<'_>) -> Result<()> {
        assert_eq!(b.txs.len(), b.receipts.len(), "one receipt per transaction");
        let height = b.header.height;
        let w = self.db.begin_write()?;
        {
            // The head is read inside the write transaction that moves it.
            let head = match w.open_table(META)?.get(HEAD)? {
                Some(v) => decode_u64(v.value())?,
                None => {
                    return Err(StoreError::Corrupt(
                        "no genesis: the store was never initialised".into(),
                    ))
                }
            };
            if height != head + 1 {
                return Err(StoreError::NotNext { head, got: height });
            }
            w.open_table(HEADERS)?
                .insert(height, b.header.encode().as_slice())?;
            w.open_table(BLOCK_HEIGHTS)?
                .insert(b.header.hash().0.as_slice(), height)?;
            let mut ids = Vec::with_capacity(32 * b.txs.len());
            let mut txs = w.open_table(TXS)?;
            let (mut by_account, mut by_machine) =
                (w.open_table(ACCOUNT_TXS)?, w.open_table(MACHINE_TXS)?);
            let mut rec = Vec::new();
            for (i, ((hash, tx), receipt)) in b.txs.iter().zip(b.receipts).enumerate() {
                ids.extend_from_slice(&hash.0);
                rec.clear();
                encode_record(&mut rec, height, i, tx, receipt);
                txs.insert(hash.0.as_slice(), rec.as_slice())?;
                let index = u32::try_from(i).expect("a block's transactions are bounded");
                let at = TxPosition { height, index };
                history::index(&mut by_account, &mut by_machine, at, hash, tx, receipt)?;
            }
            w.open_table(BLOCK_TXS)?.insert(height, ids.as_slice())?;
            if !b.events.is_empty() {
                let mut ev = Vec::new();
                put_vec(&mut ev, b.events);
                w.open_table(BLOCK_EVENTS)?.insert(height, ev.as_slice())?;
            }
            write_state(&mut w.open_table(STATE)?, b.changes)?;
            w.open_table(META)?
                .insert(HEAD, height.to_be_bytes().as_slice())?;
        }
        w.commit()?;
        Ok(())
    }

    /// Takes the chain back to `height` (a dev chain's revert), in one transaction: every
    /// later block, its transactions, receipts, events and history entries go, `changes`
    /// (which turn the head's state into the state at `height`) are written, and the head
    /// moves back.
    pub fn revert_to(&self, height: u64, changes: &ChangeSet) -> Result<()> {
        let head = self.head()?.unwrap_or(0);
        let later: Vec<(u64, BlockHeader, Vec<Hash>)> = (height + 1..=head)
            .map(|h| {
                let header = self.header(h)?.ok_or_else(|| corrupt("header", h))?;
                Ok((h, header, self.block_tx_hashes(h)?))
            })
            .collect::<Result<_>>()?;
        let records: Vec<TxRecord> = later
            .iter()
            .flat_map(|(_, _, ids)| ids.iter())
            .map(|id| self.tx(id)?.ok_or_else(|| corrupt("transaction", id)))
            .collect::<Result<_>>()?;
        let w = self.db.begin_write()?;
        {
            let (mut headers, mut heights) = (w.open_table(HEADERS)?, w.open_table(BLOCK_HEIGHTS)?);
            let (mut block_txs, mut events) =
                (w.open_table(BLOCK_TXS)?, w.open_table(BLOCK_EVENTS)?);
            for (h, header, _) in &later {
                headers.remove(h)?;
                heights.remove(header.hash().0.as_slice())?;
                block_txs.remove(h)?;
                events.remove(h)?;
            }
            let mut txs = w.open_table(TXS)?;
            let (mut by_account, mut by_machine) =
                (w.open_table(ACCOUNT_TXS)?, w.open_table(MACHINE_TXS)?);
            for (id, r) in later.iter().flat_map(|(_, _, ids)| ids).zip(&records) {
                txs.remove(id.0.as_slice())?;
                let at = TxPosition {
                    height: r.height,
                    index: r.index,
                };
                history::unindex(&mut by_account, &mut by_machine, at, &r.tx, &r.receipt)?;
            }
            write_state(&mut w.open_table(STATE)?, changes)?;
            w.open_table(META)?
                .insert(HEAD, height.to_be_bytes().as_slice())?;
        }
        w.commit()?;
        Ok(())
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> Result<Option<BlockHeader>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(HEADERS)?;
        let v = t.get(height)?;
        v.map(|v| BlockHeader::decode_exact(v.value(), 1024).map_err(|e| corrupt("header", e)))
            .transpose()
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
        let t = r.open_table(BLOCK_TXS)?;
        let Some(v) = t.get(height)? else {
            return Ok(Vec::new());
        };
        let bytes = v.value();
        if bytes.len() % 32 != 0 || bytes.len() / 32 > MAX_BLOCK_TXS {
            return Err(StoreError::Corrupt(format!("tx list of block {height}")));
        }
        Ok(bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                Hash(h)
            })
            .collect())
    }

    /// The events of the block hooks at `height` (none for a block without any).
    pub fn block_events(&self, height: u64) -> Result<Vec<Event>> {
        let r = self.db.begin_read()?;
        let t = match r.open_table(BLOCK_EVENTS) {
            Ok(t) => t,
            // A store whose blocks never had hook events has no such table yet.
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
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
        let r = self.db.begin_read()?;
        let t = r.open_table(TXS)?;
        let v = t.get(hash.0.as_slice())?;
        v.map(|v| decode_record(v.value())).transpose()
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
        let r = self.db.begin_read()?;
        history::page(&r.open_table(ACCOUNT_TXS)?, &account.0, before, limit)
    }

    /// The transactions whose events name machine `id`, newest first, as
    /// [`Store::account_txs`].
    pub fn machine_txs(
        &self,
        id: u64,
        before: Option<TxPosition>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>> {
        let r = self.db.begin_read()?;
        history::page(
            &r.open_table(MACHINE_TXS)?,
            &id.to_be_bytes(),
            before,
            limit,
        )
    }

    /// Every state entry, for rebuilding the in-memory authenticated state on start.
    pub fn state_entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let r = self.db.begin_read()?;
        let t = r.open_table(STATE)?;
        let mut out = Vec::with_capacity(usize::try_from(t.len()?).unwrap_or(0));
        for e in t.iter()? {
            let (k, v) = e?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
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

fn encode_record(out: &mut Vec<u8>, height: u64, index: usize, tx: &Transaction, r: &Receipt) {
    height.encode_to(out);
    u32::try_from(index)
        .expect("block index fits u32: blocks are bounded")
        .encode_to(out);
    put_var_bytes(out, &tx.encode());
    put_var_bytes(out, &r.encode());
}

fn decode_record(bytes: &[u8]) -> Result<TxRecord> {
    let mut rd = Reader::new(bytes);
    let rec = (|| {
        let height = rd.u64()?;
        let index = rd.u32()?;
        let tx = Transaction::decode_exact(rd.var_bytes("tx", MAX_TX_BYTES)?, MAX_TX_BYTES)?;
        let receipt = Receipt::decode_exact(
            rd.var_bytes("receipt", MAX_RECEIPT_BYTES)?,
            MAX_RECEIPT_BYTES,
        )?;
        rd.finish()?;
        Ok::<_, machina_primitives::CodecError>(TxRecord {
            height,
            index,
            tx,
            receipt,
        })
    })();
    rec.map_err(|e| corrupt("tx record", e))
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
        {
            let s = Store::open(&path).expect("open");
            s.init(b"{}", &header(0), &ChangeSet::new()).expect("init");
            let mut changes = ChangeSet::new();
            changes.insert(b"k".to_vec(), Some(b"v".to_vec()));
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
            })
            .err();
        assert!(matches!(err, Some(StoreError::NotNext { head: 0, got: 2 })));
    }
}

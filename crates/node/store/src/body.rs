//! A block's body as stored: its records (each transaction with its receipt) as one stream, and
//! a locator per transaction (its id and where its record ends) as another.
//!
//! Record: `varint(len) || canonical transaction || stored receipt` ([`crate::compact`]).
//! Locator: `id (32) || end offset of the record in the body (u32, big-endian)`, so locator `i`
//! sits at byte `36 i` and a transaction is found from its position with two small reads.

use crate::compact::{self, put_varint};
use crate::stream::{self, PieceKey};
use crate::{corrupt, Result};
use machina_primitives::codec::{Decode, Encode, Reader};
use machina_primitives::limits::MAX_TX_BYTES;
use machina_primitives::{Hash, Receipt};
use machina_stf::Transaction;
use redb::ReadableTable;

/// Bytes of one locator.
pub(crate) const LOCATOR_BYTES: usize = 36;

/// The body and locator streams of a block's transactions and receipts.
pub(crate) fn encode(txs: &[(Hash, &Transaction)], receipts: &[Receipt]) -> (Vec<u8>, Vec<u8>) {
    let mut body = Vec::with_capacity(320 * txs.len());
    let mut locators = Vec::with_capacity(LOCATOR_BYTES * txs.len());
    let mut tx_bytes = Vec::new();
    for ((hash, tx), receipt) in txs.iter().zip(receipts) {
        tx_bytes.clear();
        tx.encode_to(&mut tx_bytes);
        put_varint(&mut body, tx_bytes.len() as u128);
        body.extend_from_slice(&tx_bytes);
        compact::put_receipt(&mut body, receipt);
        locators.extend_from_slice(&hash.0);
        let end = u32::try_from(body.len()).expect("a block's body is bounded far below 4 GiB");
        locators.extend_from_slice(&end.to_be_bytes());
    }
    (body, locators)
}

/// Decodes one record of transaction `hash`.
pub(crate) fn record(bytes: &[u8], hash: Hash) -> Result<(Transaction, Receipt)> {
    let mut rd = Reader::new(bytes);
    let rec = (|| {
        let n = compact::len(&mut rd, "stored transaction", MAX_TX_BYTES)?;
        let tx = Transaction::decode_exact(rd.bytes(n)?, MAX_TX_BYTES)?;
        let receipt = compact::receipt(&mut rd, hash)?;
        rd.finish()?;
        Ok::<_, machina_primitives::CodecError>((tx, receipt))
    })();
    rec.map_err(|e| corrupt("tx record", e))
}

/// Splits a locator stream into `(id, end)` pairs.
pub(crate) fn locators(bytes: &[u8]) -> Result<Vec<(Hash, usize)>> {
    if !bytes.len().is_multiple_of(LOCATOR_BYTES) {
        return Err(corrupt("locators", "not a whole number of entries"));
    }
    Ok(bytes.chunks_exact(LOCATOR_BYTES).map(locator).collect())
}

fn locator(b: &[u8]) -> (Hash, usize) {
    let mut h = [0u8; 32];
    h.copy_from_slice(&b[..32]);
    let end = u32::from_be_bytes([b[32], b[33], b[34], b[35]]);
    (Hash(h), end as usize)
}

/// Every record of block `height`, in order, with its id.
pub(crate) fn all(
    bodies: &impl ReadableTable<PieceKey, &'static [u8]>,
    locs: &impl ReadableTable<PieceKey, &'static [u8]>,
    height: u64,
) -> Result<Vec<(Hash, Transaction, Receipt)>> {
    let body = stream::read_all(bodies, height)?;
    let mut start = 0;
    let mut out = Vec::new();
    for (hash, end) in locators(&stream::read_all(locs, height)?)? {
        let bytes = body
            .get(start..end)
            .ok_or_else(|| corrupt("tx record", format!("block {height} ends early")))?;
        let (tx, receipt) = record(bytes, hash)?;
        out.push((hash, tx, receipt));
        start = end;
    }
    Ok(out)
}

/// The id of the transaction at `index` of block `height`, and where its record is, if the
/// block has that many.
pub(crate) fn locate(
    locs: &impl ReadableTable<PieceKey, &'static [u8]>,
    height: u64,
    index: u32,
) -> Result<Option<(Hash, usize, usize)>> {
    let at = index as usize * LOCATOR_BYTES;
    let from = at.saturating_sub(LOCATOR_BYTES);
    let bytes = match stream::read(locs, height, from, at + LOCATOR_BYTES) {
        Ok(b) => b,
        // Past the end of the block (or no such block): no transaction there.
        Err(crate::StoreError::Corrupt(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (hash, end) = locator(&bytes[bytes.len() - LOCATOR_BYTES..]);
    let start = if index == 0 { 0 } else { locator(&bytes).1 };
    if start > end {
        return Err(corrupt("locators", format!("block {height} out of order")));
    }
    Ok(Some((hash, start, end)))
}

//! A block's byte streams (its records, its locators, its state writes) stored in pieces of
//! about one page, keyed by `(height, piece)`.
//!
//! Why pieces: redb splits a full leaf in half, so small values written in key order leave every
//! page half empty, and one large value is rounded up to a power of two of pages. A piece of
//! [`PIECE_BYTES`] fills a 4 KiB leaf by itself, so a stream costs its own size on disk, and
//! since heights only grow, each commit appends pages instead of rewriting old ones.

use crate::{Result, StoreError};
use redb::{ReadableTable, Table, TableDefinition};

/// The key of one piece: the block's height and the piece's number in its stream.
pub(crate) type PieceKey = (u64, u32);

/// A table of streams.
pub(crate) type StreamTable = TableDefinition<'static, PieceKey, &'static [u8]>;

/// Bytes in a full piece: with its key and the leaf's header, one 4 KiB page.
pub(crate) const PIECE_BYTES: usize = 4000;

/// Writes `bytes` as the stream of block `height`.
pub(crate) fn put(t: &mut Table<'_, PieceKey, &[u8]>, height: u64, bytes: &[u8]) -> Result<()> {
    for (i, piece) in bytes.chunks(PIECE_BYTES).enumerate() {
        let i = u32::try_from(i).map_err(|_| StoreError::Corrupt("stream too long".into()))?;
        t.insert((height, i), piece)?;
    }
    Ok(())
}

/// Bytes `start..end` of block `height`'s stream.
pub(crate) fn read(
    t: &impl ReadableTable<PieceKey, &'static [u8]>,
    height: u64,
    start: usize,
    end: usize,
) -> Result<Vec<u8>> {
    if start >= end {
        return Ok(Vec::new());
    }
    let piece = |offset: usize| u32::try_from(offset / PIECE_BYTES).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(end - start);
    for e in t.range((height, piece(start))..=(height, piece(end - 1)))? {
        let (k, v) = e?;
        let (bytes, at) = (v.value(), k.value().1 as usize * PIECE_BYTES);
        let lo = start.saturating_sub(at).min(bytes.len());
        let hi = end.saturating_sub(at).min(bytes.len());
        out.extend_from_slice(&bytes[lo..hi]);
    }
    if out.len() != end - start {
        return Err(StoreError::Corrupt(format!(
            "stream of block {height} ends before byte {end}"
        )));
    }
    Ok(out)
}

/// The whole stream of block `height` (empty if it has none).
pub(crate) fn read_all(
    t: &impl ReadableTable<PieceKey, &'static [u8]>,
    height: u64,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for e in t.range((height, 0)..=(height, u32::MAX))? {
        out.extend_from_slice(e?.1.value());
    }
    Ok(out)
}

/// Removes the streams of the blocks in `heights`.
pub(crate) fn remove(
    t: &mut Table<'_, PieceKey, &[u8]>,
    heights: std::ops::RangeInclusive<u64>,
) -> Result<()> {
    let (lo, hi) = heights.into_inner();
    t.retain_in((lo, 0)..=(hi, u32::MAX), |_, _| false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: StreamTable = TableDefinition::new("t");

    proptest! {
        #[test]
        fn any_range_of_a_stream_reads_back(
            len in 0usize..3 * PIECE_BYTES + 10,
            a in 0usize..4 * PIECE_BYTES,
            b in 0usize..4 * PIECE_BYTES,
        ) {
            let db = redb::Builder::new()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .expect("db");
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let w = db.begin_write().expect("write");
            {
                let mut t = w.open_table(T).expect("table");
                put(&mut t, 7, &bytes).expect("put");
                put(&mut t, 8, b"next block").expect("put");
                let (start, end) = (a.min(b), a.max(b));
                let got = read(&t, 7, start, end);
                if end <= len {
                    prop_assert_eq!(got.expect("in range"), bytes[start..end].to_vec());
                } else if start < end {
                    prop_assert!(got.is_err());
                }
                prop_assert_eq!(read_all(&t, 7).expect("all"), bytes);
                remove(&mut t, 7..=7).expect("remove");
                prop_assert!(read_all(&t, 7).expect("all").is_empty());
                prop_assert_eq!(read_all(&t, 8).expect("all"), b"next block".to_vec());
            }
        }
    }
}

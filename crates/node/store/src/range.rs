//! Ordered reads of the stored state: the keys under a prefix, in key order, from a cursor.
//!
//! The authenticated state in memory is keyed by hashes and cannot list what is under a
//! prefix; the store keeps the same entries in a B-tree ordered by key, written in the block's
//! own transaction. A page of keys read here, together with the head of the same read
//! transaction, is exactly the state after that block.

use crate::{head_of, Result, Store, STATE};
use redb::{AccessGuard, StorageError};
use std::iter::Peekable;
use std::ops::Bound;

/// Most keys one [`Store::state_keys`] call returns.
pub const MAX_STATE_KEYS_PAGE: usize = 1_000;

/// Keys under a prefix, as of one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysPage {
    /// The block whose state they are of (the head when they were read).
    pub height: u64,
    /// The keys, in byte order, each starting with the prefix.
    pub keys: Vec<Vec<u8>>,
}

impl Store {
    /// The state's keys that start with `prefix` and sort after `after` (all by default), in
    /// byte order, at most `limit` (and [`MAX_STATE_KEYS_PAGE`]), with the height they are of.
    pub fn state_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<KeysPage> {
        let p = self.waiting();
        let r = self.db.begin_read()?;
        let height = head_of(&r)?.unwrap_or(0);
        let t = r.open_table(STATE)?;
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        let mut keys = Vec::new();
        let table = t.range::<&[u8]>((start, Bound::Unbounded))?;
        for e in merged(table, p.state_from(start, height)) {
            if keys.len() >= limit.min(MAX_STATE_KEYS_PAGE) {
                break;
            }
            let (k, _) = e?;
            if !k.starts_with(prefix) {
                break;
            }
            keys.push(k);
        }
        Ok(KeysPage { height, keys })
    }
}

type Row<'a> = std::result::Result<
    (
        AccessGuard<'a, &'static [u8]>,
        AccessGuard<'a, &'static [u8]>,
    ),
    StorageError,
>;

/// The state table's entries in key order with the writes that wait applied: a waiting value
/// replaces the table's, a waiting delete hides it.
pub(crate) fn merged<'a, 'w>(
    table: impl Iterator<Item = Row<'a>>,
    waiting: impl Iterator<Item = (&'w [u8], Option<&'w [u8]>)>,
) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> {
    Merge {
        table: table.peekable(),
        waiting: waiting.peekable(),
    }
}

struct Merge<T: Iterator, W: Iterator> {
    table: Peekable<T>,
    waiting: Peekable<W>,
}

impl<'a, 'w, T, W> Iterator for Merge<T, W>
where
    T: Iterator<Item = Row<'a>>,
    W: Iterator<Item = (&'w [u8], Option<&'w [u8]>)>,
{
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.table.peek(), self.waiting.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => {
                    let e = self.table.next()?.err()?;
                    return Some(Err(e.into()));
                }
                (Some(Ok((k, _))), Some((wk, _))) => k.value().cmp(wk),
                (Some(Ok(_)), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
            };
            if order == std::cmp::Ordering::Less {
                let (k, v) = self.table.next()?.ok()?;
                return Some(Ok((k.value().to_vec(), v.value().to_vec())));
            }
            if order == std::cmp::Ordering::Equal {
                // The waiting write is newer than the table's entry.
                self.table.next();
            }
            if let (k, Some(v)) = self.waiting.next()? {
                return Some(Ok((k.to_vec(), v.to_vec())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::header;
    use crate::{CommittedBlock, Store};
    use machina_state::ChangeSet;

    fn set(keys: &[&[u8]]) -> ChangeSet {
        keys.iter().map(|k| (k.to_vec(), Some(vec![1]))).collect()
    }

    #[test]
    fn keys_under_a_prefix_come_in_order_from_the_cursor_and_no_others() {
        let s = Store::in_memory().expect("store");
        s.init(
            b"{}",
            &header(0),
            &set(&[b"a/2", b"a/1", b"a", b"b/1", b"a/3"]),
        )
        .expect("init");
        let all = s.state_keys(b"a/", None, 10).expect("keys");
        assert_eq!(all.height, 0);
        assert_eq!(
            all.keys,
            vec![b"a/1".to_vec(), b"a/2".to_vec(), b"a/3".to_vec()]
        );
        let page = s.state_keys(b"a/", Some(b"a/1"), 1).expect("keys");
        assert_eq!(page.keys, vec![b"a/2".to_vec()]);
        let rest = s.state_keys(b"a/", Some(b"a/2"), 10).expect("keys");
        assert_eq!(rest.keys, vec![b"a/3".to_vec()]);
        assert!(s
            .state_keys(b"a/", Some(b"a/3"), 10)
            .expect("keys")
            .keys
            .is_empty());
        // A cursor below the prefix starts at its first key.
        assert_eq!(
            s.state_keys(b"a/", Some(b"0"), 1).expect("keys").keys,
            vec![b"a/1".to_vec()]
        );
        assert!(s.state_keys(b"c/", None, 10).expect("keys").keys.is_empty());
    }

    #[test]
    fn a_block_s_deletes_and_writes_show_with_its_height() {
        let s = Store::in_memory().expect("store");
        s.init(b"{}", &header(0), &set(&[b"p/1", b"p/2"]))
            .expect("init");
        let mut changes = set(&[b"p/3"]);
        changes.insert(b"p/1".to_vec(), None);
        s.commit_block(&CommittedBlock {
            header: &header(1),
            txs: &[],
            receipts: &[],
            changes: &changes,
            events: &[],
            forced: false,
        })
        .expect("commit");
        let page = s.state_keys(b"p/", None, 10).expect("keys");
        assert_eq!(page.height, 1);
        assert_eq!(page.keys, vec![b"p/2".to_vec(), b"p/3".to_vec()]);
    }
}

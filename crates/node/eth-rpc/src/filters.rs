//! Logs and filters: `eth_getLogs`, and the polled filters of `eth_newFilter`,
//! `eth_newBlockFilter` and `eth_getFilterChanges`.

use crate::params::{address, block, hash, need, quantity64, BlockSel};
use crate::shapes::{self, qty, Position};
use crate::{EthRpc, RpcError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Most filters a node holds at once; the oldest idle one goes first.
pub const MAX_FILTERS: usize = 1_024;
/// Most blocks one `eth_getLogs` (or one poll of a filter) reads.
pub const MAX_LOG_BLOCK_RANGE: u64 = 10_000;
/// Most logs one answer holds; narrow the range or the filter for more.
pub const MAX_LOGS: usize = 10_000;
/// A filter nobody polled for this long is removed, as geth does.
pub const FILTER_IDLE: Duration = Duration::from_secs(300);

/// Which logs a filter or query wants.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogFilter {
    from: Option<BlockSel>,
    to: Option<BlockSel>,
    at: Option<BlockSel>,
    /// Lowercase `0x` addresses; empty: any.
    addresses: Vec<String>,
    /// Per position, the topics allowed there (lowercase `0x`); `None`: any.
    topics: Vec<Option<Vec<String>>>,
}

fn lower_hash(v: &Value, what: &str) -> Result<String, RpcError> {
    Ok(hash(v, what)?.to_string().to_lowercase())
}

impl LogFilter {
    /// Reads `{fromBlock, toBlock, blockHash, address, topics}`.
    pub(crate) fn parse(v: &Value) -> Result<LogFilter, RpcError> {
        let field = |k: &str| v.get(k).filter(|x| !x.is_null());
        let addresses = match field("address") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| address(x, "address").map(|a| a.to_string().to_lowercase()))
                .collect::<Result<_, _>>()?,
            Some(x) => vec![address(x, "address")?.to_string().to_lowercase()],
        };
        let mut topics = Vec::new();
        if let Some(Value::Array(ts)) = field("topics") {
            if ts.len() > 4 {
                return Err(RpcError::params("a log has at most 4 topics"));
            }
            for t in ts {
                topics.push(match t {
                    Value::Null => None,
                    Value::Array(any) => Some(
                        any.iter()
                            .map(|x| lower_hash(x, "topic"))
                            .collect::<Result<_, _>>()?,
                    ),
                    x => Some(vec![lower_hash(x, "topic")?]),
                });
            }
        }
        let at = field("blockHash")
            .map(|h| hash(h, "blockHash").map(BlockSel::Hash))
            .transpose()?;
        Ok(LogFilter {
            from: field("fromBlock").map(|b| block(Some(b))).transpose()?,
            to: field("toBlock").map(|b| block(Some(b))).transpose()?,
            at,
            addresses,
            topics,
        })
    }

    /// Whether a log object matches.
    pub(crate) fn matches(&self, log: &Value) -> bool {
        let addr = log["address"].as_str().unwrap_or("");
        if !self.addresses.is_empty() && !self.addresses.iter().any(|a| a == addr) {
            return false;
        }
        let topics = log["topics"].as_array();
        self.topics.iter().enumerate().all(|(i, want)| match want {
            None => true,
            Some(any) => topics
                .and_then(|t| t.get(i))
                .and_then(Value::as_str)
                .is_some_and(|t| any.iter().any(|w| w == t)),
        })
    }
}

impl EthRpc {
    /// The matching logs of the blocks `from..=to`.
    pub(crate) fn logs_between(
        &self,
        f: &LogFilter,
        from: u64,
        to: u64,
    ) -> Result<Vec<Value>, RpcError> {
        if to >= from && to - from >= MAX_LOG_BLOCK_RANGE {
            return Err(RpcError::new(
                -32005,
                format!(
                    "the range spans {} blocks, at most {MAX_LOG_BLOCK_RANGE}: narrow it",
                    to - from + 1
                ),
            ));
        }
        let store = self.chain.store();
        let mut out = Vec::new();
        for height in from..=to {
            let Some(header) = store.header(height).map_err(RpcError::internal)? else {
                continue;
            };
            let block_hash = header.hash();
            for h in store.block_tx_hashes(height).map_err(RpcError::internal)? {
                let Some(rec) = store.tx(&h).map_err(RpcError::internal)? else {
                    continue;
                };
                let at = Position {
                    block_hash,
                    height,
                    index: rec.index,
                };
                out.extend(
                    shapes::logs(&rec.receipt, &at)
                        .into_iter()
                        .filter(|l| f.matches(l)),
                );
                if out.len() > MAX_LOGS {
                    return Err(RpcError::new(
                        -32005,
                        format!("the query returns more than {MAX_LOGS} logs: narrow the range or the filter"),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The block range a filter names, resolved against the head.
    fn range(&self, f: &LogFilter) -> Result<Option<(u64, u64)>, RpcError> {
        if let Some(at) = f.at {
            return Ok(self.height_of(at)?.map(|h| (h, h)));
        }
        let head = self.head().height;
        let from = match f.from {
            Some(b) => self.height_of(b)?.unwrap_or(head + 1),
            None => head,
        };
        let to = match f.to {
            Some(b) => self.height_of(b)?.unwrap_or(head),
            None => head,
        };
        Ok((from <= to).then_some((from, to)))
    }

    pub(crate) fn get_logs(&self, p: &Value) -> Result<Value, RpcError> {
        let f = LogFilter::parse(&need(p, 0, "filter")?)?;
        match self.range(&f)? {
            Some((from, to)) => Ok(Value::Array(self.logs_between(&f, from, to)?)),
            None => Ok(Value::Array(Vec::new())),
        }
    }

    fn install(&self, kind: Kind) -> Result<Value, RpcError> {
        let head = self.head().height;
        let mut fs = self.filters.lock().expect("filters lock");
        fs.expire();
        if fs.map.len() >= MAX_FILTERS {
            let oldest = fs
                .map
                .iter()
                .min_by_key(|(_, f)| f.touched)
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                fs.map.remove(&id);
            }
        }
        fs.next += 1;
        let id = fs.next;
        fs.map.insert(
            id,
            Filter {
                kind,
                polled_through: head,
                touched: Instant::now(),
            },
        );
        Ok(qty(id))
    }

    pub(crate) fn new_filter(&self, p: &Value) -> Result<Value, RpcError> {
        let f = LogFilter::parse(&need(p, 0, "filter")?)?;
        self.install(Kind::Logs(f))
    }

    pub(crate) fn new_block_filter(&self) -> Result<Value, RpcError> {
        self.install(Kind::Blocks)
    }

    fn filter_id(p: &Value) -> Result<u64, RpcError> {
        quantity64(&need(p, 0, "filter id")?, "filter id")
    }

    pub(crate) fn filter_changes(&self, p: &Value) -> Result<Value, RpcError> {
        let id = Self::filter_id(p)?;
        let head = self.head().height;
        let (kind, since) = {
            let mut fs = self.filters.lock().expect("filters lock");
            fs.expire();
            let f = fs
                .map
                .get_mut(&id)
                .ok_or_else(|| RpcError::new(-32000, "filter not found"))?;
            f.touched = Instant::now();
            let since = f.polled_through;
            // A poll reads at most MAX_LOG_BLOCK_RANGE blocks; the next one goes on from there.
            f.polled_through = head.min(since + MAX_LOG_BLOCK_RANGE);
            (f.kind.clone(), since)
        };
        let to = head.min(since + MAX_LOG_BLOCK_RANGE);
        if to <= since {
            return Ok(Value::Array(Vec::new()));
        }
        match kind {
            Kind::Blocks => {
                let mut out = Vec::new();
                for h in since + 1..=to {
                    if let Some(header) =
                        self.chain.store().header(h).map_err(RpcError::internal)?
                    {
                        out.push(crate::methods::hash_json(&header.hash()));
                    }
                }
                Ok(Value::Array(out))
            }
            Kind::Logs(f) => Ok(Value::Array(self.logs_between(&f, since + 1, to)?)),
        }
    }

    pub(crate) fn filter_logs(&self, p: &Value) -> Result<Value, RpcError> {
        let id = Self::filter_id(p)?;
        let kind = {
            let fs = self.filters.lock().expect("filters lock");
            fs.map.get(&id).map(|f| f.kind.clone())
        };
        match kind {
            Some(Kind::Logs(f)) => match self.range(&f)? {
                Some((from, to)) => Ok(Value::Array(self.logs_between(&f, from, to)?)),
                None => Ok(Value::Array(Vec::new())),
            },
            Some(Kind::Blocks) => Err(RpcError::new(-32000, "a block filter has no logs")),
            None => Err(RpcError::new(-32000, "filter not found")),
        }
    }

    pub(crate) fn uninstall_filter(&self, p: &Value) -> Result<Value, RpcError> {
        let id = Self::filter_id(p)?;
        Ok(Value::Bool(
            self.filters
                .lock()
                .expect("filters lock")
                .map
                .remove(&id)
                .is_some(),
        ))
    }
}

/// What a filter follows.
#[derive(Clone, Debug)]
enum Kind {
    Blocks,
    Logs(LogFilter),
}

struct Filter {
    kind: Kind,
    /// The last height whose changes were returned.
    polled_through: u64,
    touched: Instant,
}

/// The installed filters, by id.
#[derive(Default)]
pub(crate) struct Filters {
    next: u64,
    map: BTreeMap<u64, Filter>,
}

impl Filters {
    fn expire(&mut self) {
        self.map.retain(|_, f| f.touched.elapsed() < FILTER_IDLE);
    }
}

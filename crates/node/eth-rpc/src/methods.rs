//! The methods: one function each, dispatched by name.

use crate::params::{
    address, arg, block, bytes, hash, need, quantity64, wei, wei_as_micro, BlockSel,
};
use crate::shapes::{self, data, qty, Position};
use crate::{EthRpc, RpcError, CLIENT_VERSION};
use machina_evm::{simulate, Call, Outcome, Status, BASE_FEE_WEI, BLOCK_GAS_LIMIT};
use machina_primitives::{Address, Amount, BlockEnv, BlockHeader, Hash};
use serde_json::{json, Value};

/// Most gas `eth_call` and `eth_estimateGas` run with when the request names none.
pub const DEFAULT_CALL_GAS: u64 = 50_000_000;
/// Most blocks `eth_feeHistory` reports.
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1_024;

type Res = Result<Value, RpcError>;

impl EthRpc {
    /// Runs one method.
    pub(crate) fn call(&self, method: &str, p: &Value) -> Res {
        match method {
            "eth_chainId" => Ok(qty(self.chain.chain_id())),
            "net_version" => Ok(Value::String(self.chain.chain_id().to_string())),
            "net_listening" => Ok(Value::Bool(true)),
            "net_peerCount" => Ok(qty(0u64)),
            "web3_clientVersion" => Ok(Value::String(CLIENT_VERSION.into())),
            "eth_blockNumber" => Ok(qty(self.head().height)),
            "eth_syncing" => Ok(Value::Bool(false)),
            "eth_mining" => Ok(Value::Bool(false)),
            "eth_accounts" => Ok(Value::Array(
                self.dev_keys
                    .iter()
                    .map(|k| Value::String(k.address().to_string().to_lowercase()))
                    .collect(),
            )),
            "eth_gasPrice" => Ok(qty(BASE_FEE_WEI)),
            "eth_maxPriorityFeePerGas" => Ok(qty(0u64)),
            "eth_feeHistory" => self.fee_history(p),
            "eth_getBlockByNumber" | "eth_getBlockByHash" => self.get_block(p),
            "eth_getBlockTransactionCountByNumber" | "eth_getBlockTransactionCountByHash" => {
                self.block_tx_count(p)
            }
            "eth_getBalance" => self.with_state(p, 1, |s, a| {
                Ok(qty(
                    machina_bank::account(s, &a).balance.0 * machina_evm::WEI_PER_MICRO
                ))
            }),
            "eth_getTransactionCount" => self.transaction_count(p),
            "eth_getCode" => self.with_state(p, 1, |s, a| Ok(data(&machina_evm::code(s, &a)))),
            "eth_getStorageAt" => self.storage_at(p),
            "eth_call" => self.eth_call(p),
            "eth_estimateGas" => self.estimate_gas(p),
            "eth_sendRawTransaction" => {
                self.send_raw(bytes(&need(p, 0, "raw transaction")?, "raw transaction")?)
            }
            "eth_sendTransaction" => self.send_transaction(p),
            "eth_getTransactionByHash" => self.transaction_by_hash(p),
            "eth_getTransactionByBlockNumberAndIndex" | "eth_getTransactionByBlockHashAndIndex" => {
                self.transaction_by_index(p)
            }
            "eth_getTransactionReceipt" => self.receipt(p),
            "eth_getBlockReceipts" => self.block_receipts(p),
            "eth_getLogs" => self.get_logs(p),
            "eth_newFilter" => self.new_filter(p),
            "eth_newBlockFilter" => self.new_block_filter(),
            "eth_getFilterChanges" => self.filter_changes(p),
            "eth_getFilterLogs" => self.filter_logs(p),
            "eth_uninstallFilter" => self.uninstall_filter(p),
            "eth_subscribe" | "eth_unsubscribe" => Err(RpcError::new(
                -32601,
                format!("{method} needs a WebSocket: connect to ws:// on this port"),
            )),
            _ => Err(RpcError::new(
                -32601,
                format!(
                    "the method {} does not exist",
                    machina_primitives::limits::quote_prefix(method)
                ),
            )),
        }
    }

    pub(crate) fn head(&self) -> BlockHeader {
        self.chain.committed().head
    }

    fn store<T>(&self, r: Result<T, machina_store::StoreError>) -> Result<T, RpcError> {
        r.map_err(RpcError::internal)
    }

    /// The height a block selector names, if that block exists.
    pub(crate) fn height_of(&self, sel: BlockSel) -> Result<Option<u64>, RpcError> {
        let head = self.head().height;
        Ok(match sel {
            BlockSel::Head => Some(head),
            BlockSel::Number(n) => (n <= head).then_some(n),
            BlockSel::Hash(h) => self.store(self.chain.store().height_of(&h))?,
        })
    }

    /// Runs `f` on the head state for the address in parameter 0; the block (parameter
    /// `block_at`) must be the head: only the latest state is kept.
    fn with_state(
        &self,
        p: &Value,
        block_at: usize,
        f: impl FnOnce(&machina_state::SparseMerkleTree, Address) -> Res,
    ) -> Res {
        let a = address(&need(p, 0, "address")?, "address")?;
        self.require_head(arg(p, block_at))?;
        f(&self.chain.committed().state, a)
    }

    fn require_head(&self, v: Option<&Value>) -> Result<(), RpcError> {
        let sel = block(v)?;
        let head = self.head().height;
        match self.height_of(sel)? {
            Some(h) if h == head => Ok(()),
            Some(h) => Err(RpcError::new(
                -32000,
                format!("the node keeps only the latest state (height {head}), not that of block {h}: ask for \"latest\""),
            )),
            None => Err(RpcError::new(-32000, "no such block")),
        }
    }

    fn transaction_count(&self, p: &Value) -> Res {
        let a = address(&need(p, 0, "address")?, "address")?;
        if arg(p, 1).and_then(Value::as_str) == Some("pending") {
            return Ok(qty(self.chain.pending_nonce(&a)));
        }
        self.require_head(arg(p, 1))?;
        Ok(qty(machina_bank::account(
            &self.chain.committed().state,
            &a,
        )
        .nonce))
    }

    fn storage_at(&self, p: &Value) -> Res {
        let a = address(&need(p, 0, "address")?, "address")?;
        let slot = wei(&need(p, 1, "slot")?, "slot")?.to_be_bytes::<32>();
        self.require_head(arg(p, 2))?;
        Ok(data(&machina_evm::storage(
            &self.chain.committed().state,
            &a,
            &slot,
        )))
    }

    fn fee_history(&self, p: &Value) -> Res {
        let count =
            quantity64(&need(p, 0, "blockCount")?, "blockCount")?.clamp(1, MAX_FEE_HISTORY_BLOCKS);
        let newest = self
            .height_of(block(arg(p, 1))?)?
            .ok_or_else(|| RpcError::new(-32000, "no such block"))?;
        let count = count.min(newest + 1);
        let oldest = newest + 1 - count;
        let percentiles = arg(p, 2).and_then(Value::as_array).map_or(0, Vec::len);
        let mut out = json!({
            "oldestBlock": qty(oldest),
            "baseFeePerGas": vec![qty(BASE_FEE_WEI); count as usize + 1],
            "gasUsedRatio": vec![0.0; count as usize],
        });
        if percentiles > 0 {
            out["reward"] = Value::Array(vec![
                Value::Array(vec![qty(0u64); percentiles]);
                count as usize
            ]);
        }
        Ok(out)
    }

    fn get_block(&self, p: &Value) -> Res {
        let sel = block(Some(&need(p, 0, "block")?))?;
        let full = arg(p, 1).and_then(Value::as_bool).unwrap_or(false);
        let Some(height) = self.height_of(sel)? else {
            return Ok(Value::Null);
        };
        let Some(header) = self.store(self.chain.store().header(height))? else {
            return Ok(Value::Null);
        };
        let hashes = self.store(self.chain.store().block_tx_hashes(height))?;
        let block_hash = header.hash();
        let mut gas = 0u64;
        let mut txs = Vec::with_capacity(hashes.len());
        for h in &hashes {
            let Some(rec) = self.store(self.chain.store().tx(h))? else {
                continue;
            };
            let eth = shapes::carried(&rec.tx);
            gas = gas.saturating_add(shapes::gas_used(&rec.tx, eth.as_ref(), &rec.receipt));
            txs.push(if full {
                let at = Position {
                    block_hash,
                    height,
                    index: rec.index,
                };
                shapes::transaction(h, &rec.tx, Some(&at))
            } else {
                Value::String(h.to_string())
            });
        }
        Ok(shapes::block(&header, txs, gas))
    }

    fn block_tx_count(&self, p: &Value) -> Res {
        let sel = block(Some(&need(p, 0, "block")?))?;
        match self.height_of(sel)? {
            Some(h) => Ok(qty(
                self.store(self.chain.store().block_tx_hashes(h))?.len() as u64,
            )),
            None => Ok(Value::Null),
        }
    }

    fn transaction_by_hash(&self, p: &Value) -> Res {
        let h = hash(&need(p, 0, "transaction hash")?, "transaction hash")?;
        let Some(rec) = self.store(self.chain.store().tx(&h))? else {
            return Ok(Value::Null);
        };
        let at = self.position(&rec)?;
        Ok(shapes::transaction(&h, &rec.tx, Some(&at)))
    }

    fn transaction_by_index(&self, p: &Value) -> Res {
        let sel = block(Some(&need(p, 0, "block")?))?;
        let index = quantity64(&need(p, 1, "index")?, "index")?;
        let Some(height) = self.height_of(sel)? else {
            return Ok(Value::Null);
        };
        let hashes = self.store(self.chain.store().block_tx_hashes(height))?;
        match usize::try_from(index).ok().and_then(|i| hashes.get(i)) {
            Some(h) => self.transaction_by_hash(&json!([h.to_string()])),
            None => Ok(Value::Null),
        }
    }

    pub(crate) fn position(&self, rec: &machina_store::TxRecord) -> Result<Position, RpcError> {
        let header = self
            .store(self.chain.store().header(rec.height))?
            .ok_or_else(|| RpcError::internal("a stored transaction's block is missing"))?;
        Ok(Position {
            block_hash: header.hash(),
            height: rec.height,
            index: rec.index,
        })
    }

    fn receipt(&self, p: &Value) -> Res {
        let h = hash(&need(p, 0, "transaction hash")?, "transaction hash")?;
        let Some(rec) = self.store(self.chain.store().tx(&h))? else {
            return Ok(Value::Null);
        };
        let at = self.position(&rec)?;
        Ok(shapes::receipt(&rec, at.block_hash))
    }

    fn block_receipts(&self, p: &Value) -> Res {
        let sel = block(Some(&need(p, 0, "block")?))?;
        let Some(height) = self.height_of(sel)? else {
            return Ok(Value::Null);
        };
        let Some(header) = self.store(self.chain.store().header(height))? else {
            return Ok(Value::Null);
        };
        let mut out = Vec::new();
        for h in self.store(self.chain.store().block_tx_hashes(height))? {
            if let Some(rec) = self.store(self.chain.store().tx(&h))? {
                out.push(shapes::receipt(&rec, header.hash()));
            }
        }
        Ok(Value::Array(out))
    }

    /// The env of a block on top of the head, for calls.
    fn next_env(&self) -> BlockEnv {
        let head = self.head();
        BlockEnv {
            chain_id: self.chain.chain_id(),
            height: head.height + 1,
            timestamp_ms: machina_chain::now_ms().max(head.timestamp_ms),
            proposer: self.chain.proposer(),
        }
    }

    /// A call object (`from`, `to`, `gas`, `value`, `data`/`input`) as a call.
    fn call_of(&self, v: &Value) -> Result<Call, RpcError> {
        let field = |k: &str| v.get(k).filter(|x| !x.is_null());
        let caller = field("from")
            .map(|f| address(f, "from"))
            .transpose()?
            .unwrap_or_default();
        let to = field("to").map(|t| address(t, "to")).transpose()?;
        let value = match field("value") {
            Some(w) => wei_as_micro(wei(w, "value")?)?,
            None => Amount::ZERO,
        };
        let input = match field("input").or_else(|| field("data")) {
            Some(d) => bytes(d, "data")?,
            None => Vec::new(),
        };
        let gas_limit = match field("gas") {
            Some(g) => quantity64(g, "gas")?,
            None => DEFAULT_CALL_GAS,
        }
        .min(BLOCK_GAS_LIMIT);
        Ok(Call {
            caller,
            to,
            value,
            data: input,
            gas_limit,
            nonce: machina_bank::account(&self.chain.committed().state, &caller).nonce,
            access_list: Vec::new(),
        })
    }

    fn run_call(&self, call: &Call) -> Result<Outcome, RpcError> {
        simulate(&self.chain.committed().state, self.next_env(), call)
            .map_err(|e| RpcError::new(-32000, format!("{}: {e}", e.code())))
    }

    fn eth_call(&self, p: &Value) -> Res {
        let call = self.call_of(&need(p, 0, "call")?)?;
        self.require_head(arg(p, 1))?;
        let out = self.run_call(&call)?;
        match out.status {
            Status::Success { output, .. } => Ok(data(&output)),
            status => Err(failure(status)),
        }
    }

    fn estimate_gas(&self, p: &Value) -> Res {
        let mut call = self.call_of(&need(p, 0, "call")?)?;
        let cap = call.gas_limit;
        let out = self.run_call(&call)?;
        if !matches!(out.status, Status::Success { .. }) {
            return Err(failure(out.status));
        }
        // The gas used is less than what the call needs when it had refunds or kept 1/64 of
        // its gas back for its callees: search for the least limit that succeeds.
        let (mut lo, mut hi) = (out.gas_used.saturating_sub(1).max(20_999), cap);
        call.gas_limit = out.gas_used;
        if matches!(self.run_call(&call)?.status, Status::Success { .. }) {
            return Ok(qty(out.gas_used));
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            call.gas_limit = mid;
            if matches!(self.run_call(&call)?.status, Status::Success { .. }) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(qty(hi))
    }

    pub(crate) fn send_raw(&self, raw: Vec<u8>) -> Res {
        self.submit_raws(vec![raw])
            .pop()
            .unwrap_or_else(|| Err(RpcError::internal("no result for the transaction")))
    }

    /// Signs and sends for an account whose key the node holds (a dev chain's).
    fn send_transaction(&self, p: &Value) -> Res {
        let v = need(p, 0, "transaction")?;
        let from = address(v.get("from").unwrap_or(&Value::Null), "from")?;
        let key = self
            .dev_keys
            .iter()
            .find(|k| k.address() == from)
            .ok_or_else(|| RpcError::new(-32000, format!("unknown_account: the node holds no key for {from}; sign the transaction yourself and use eth_sendRawTransaction")))?;
        let call = self.call_of(&v)?;
        let gas_limit = match v.get("gas").filter(|g| !g.is_null()) {
            Some(g) => quantity64(g, "gas")?,
            None => {
                let est = self.estimate_gas(&json!([v]))?;
                quantity64(&est, "estimate")?
            }
        };
        let nonce = match v.get("nonce").filter(|n| !n.is_null()) {
            Some(n) => quantity64(n, "nonce")?,
            None => self.chain.pending_nonce(&from),
        };
        let field_wei = |k: &str, default: u128| -> Result<u128, RpcError> {
            match v.get(k).filter(|x| !x.is_null()) {
                Some(x) => crate::params::quantity(x, k),
                None => Ok(default),
            }
        };
        let max_fee = field_wei("maxFeePerGas", field_wei("gasPrice", 2 * BASE_FEE_WEI)?)?;
        let tip = field_wei("maxPriorityFeePerGas", 0)?;
        let raw = machina_evm::sign::sign_1559(
            key,
            &machina_evm::sign::Unsigned {
                chain_id: self.chain.chain_id(),
                nonce,
                to: call.to,
                value_wei: machina_evm::units::micro_to_wei(call.value),
                input: call.data,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
            },
        );
        self.send_raw(raw)
    }
}

/// A failed call as JSON-RPC reports it: code 3 with the revert data, which clients decode.
fn failure(status: Status) -> RpcError {
    match status {
        Status::Revert { output } => {
            let reason = machina_evm::abi::decode_error_string(&output);
            RpcError {
                code: 3,
                message: match reason {
                    Some(r) => format!("execution reverted: {r}"),
                    None => "execution reverted".into(),
                },
                data: Some(data(&output)),
            }
        }
        Status::Halt { reason } => RpcError::new(-32000, format!("execution halted: {reason}")),
        Status::Success { .. } => RpcError::internal("a success is not a failure"),
    }
}

/// A hash as JSON.
pub(crate) fn hash_json(h: &Hash) -> Value {
    Value::String(h.to_string())
}

//! Preflight: a transaction executed against the pending state, as it would be in the next
//! block, with nothing kept.

use crate::chain::{Chain, Committed, SubmitError};
use machina_mempool::MempoolError;
use machina_primitives::{BlockEnv, Receipt};
use machina_stf::{check_admission, check_stateless, verify_txs, BlockExecutor, Transaction};

impl Chain {
    /// Runs `tx` as the next block would: the same admission checks as [`Chain::submit`], then
    /// execution after the sender's transactions already waiting in the mempool (so that the
    /// next nonce can be simulated before the earlier ones are in a block); a nonce beyond
    /// those is refused with `bad_nonce`, since what comes between is not known. Returns the receipt
    /// it would get, events included; the state, the mempool and every balance stay as they
    /// were. `Err` when the transaction could not even be included.
    pub fn simulate(&self, tx: Transaction) -> Result<Receipt, SubmitError> {
        let Committed { state, head } = self.committed();
        let next_height = head.height + 1;
        check_stateless(&tx, self.params(), next_height)?;
        let v = verify_txs(vec![tx]).pop().expect("one verification")?;
        check_admission(&state, &v, next_height)?;
        let body = &v.tx().body;
        let from = machina_bank::account(&state, &body.sender).nonce;
        if body.nonce < from {
            return Err(MempoolError::NonceTooLow {
                sender: body.sender,
                expected: from,
                got: body.nonce,
            }
            .into());
        }
        let ahead: Vec<_> = {
            let pool = self.mempool().lock().expect("mempool lock");
            (from..body.nonce)
                .map_while(|n| pool.get(&body.sender, n).cloned())
                .collect()
        };
        let env = BlockEnv {
            chain_id: self.chain_id(),
            height: next_height,
            timestamp_ms: self.next_block_time(head.timestamp_ms),
            proposer: self.proposer(),
        };
        let mut exec = BlockExecutor::begin(&state, env);
        for earlier in &ahead {
            // An earlier transaction that fails or cannot be included changes what follows
            // exactly as it would in the block.
            let _ = exec.execute(earlier);
        }
        Ok(exec.execute(&v)?.clone())
    }

    /// The chain time the next block will most likely have: now on a real clock (never
    /// before the head), the head's time on a simulated one.
    pub fn next_block_time(&self, head_ms: u64) -> u64 {
        if self.is_simulated_clock() {
            head_ms
        } else {
            self.clock_ms().max(head_ms)
        }
    }
}

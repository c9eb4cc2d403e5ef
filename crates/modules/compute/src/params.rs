//! The compute market's parameters: its genesis section, stored in the state.

use crate::records::keys;
use machina_primitives::{Address, Decode, Encode};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Most auditors the parameters name.
pub const MAX_AUDITORS: usize = 16;

/// Payment cadence, pause grace, the matching window and the registered auditors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(default, deny_unknown_fields)]
pub struct ComputeParams {
    /// A running job pays its providers every this many blocks (and at its end, pause or
    /// close), exactly for the blocks run.
    pub pay_every_blocks: u64,
    /// A paused job closes after this many blocks without a top-up.
    pub grace_blocks: u64,
    /// A job not matched within this many blocks fails and is refunded.
    pub match_window_blocks: u64,
    /// A provider acknowledges a lease (or sends a heartbeat) within this many blocks of its
    /// start, or the lease ends and the replica is matched again (jobs with an SLA).
    pub ack_blocks: u64,
    /// Jobs with two replicas or more: commits are taken until this many blocks after the
    /// job's end, reveals for as many again; then the results are tallied.
    pub result_blocks: u64,
    /// Part of a provider's bond taken when its replica's result is in the minority, or it
    /// revealed none, basis points (to the tenant).
    pub result_penalty_bps: u32,
    /// Accounts whose attestation of an offer's attributes counts (as Akash's audited
    /// attributes): a job with `attested` matches only offers one of them attested.
    #[codec(max = MAX_AUDITORS, what = "auditors")]
    pub auditors: Vec<Address>,
}

impl Default for ComputeParams {
    fn default() -> Self {
        ComputeParams {
            pay_every_blocks: 10,
            grace_blocks: 100,
            match_window_blocks: 100,
            ack_blocks: 10,
            result_blocks: 20,
            result_penalty_bps: 1_000,
            auditors: Vec::new(),
        }
    }
}

impl ComputeParams {
    /// The stored parameters (the defaults unless the genesis set others).
    pub fn load(state: &impl StateRead) -> ComputeParams {
        state
            .get(&keys::params())
            .map(|b| ComputeParams::decode_exact(&b, 1_024).expect("compute wrote its params"))
            .unwrap_or_default()
    }

    pub(crate) fn store(&self, state: &mut impl StateWrite) {
        state.set(keys::params(), self.encode());
    }
}

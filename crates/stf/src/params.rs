//! Protocol parameters, stored in the state so that every validator reads the same ones.

use machina_primitives::{Amount, Decode, Encode};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

const KEY: &[u8] = b"stf/params";

/// Parameters of the state transition function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Params {
    /// The chain id every transaction must carry.
    pub chain_id: u64,
    /// Smallest fee a transaction may offer, in micro-units.
    pub min_fee: Amount,
}

/// The default minimum fee: 0.001 token, enough to make spam cost something on a dev chain.
pub const DEFAULT_MIN_FEE: Amount = Amount(1_000);

impl Params {
    /// Default parameters for a chain.
    pub fn default_for(chain_id: u64) -> Params {
        Params {
            chain_id,
            min_fee: DEFAULT_MIN_FEE,
        }
    }
}

/// Writes the parameters.
pub(crate) fn store(state: &mut impl StateWrite, p: &Params) {
    state.set(KEY.to_vec(), p.encode());
}

/// Reads the parameters. A state without them was never initialised: a bug, so it stops.
pub fn load(state: &impl StateRead) -> Params {
    let bytes = state
        .get(KEY)
        .expect("state has params: genesis writes them");
    Params::decode_exact(&bytes, 64).expect("stored params decode")
}

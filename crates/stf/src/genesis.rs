//! Genesis: the chain's parameters and initial allocations.

use crate::params::{self, Params};
use machina_bank::Allocation;
use machina_primitives::{Amount, Keypair};
use machina_state::{ChangeSet, Overlay};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names of the prefunded dev accounts, whose keys are derived from the names.
pub const DEV_ACCOUNTS: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];

/// What a dev account holds at genesis: one million tokens.
pub const DEV_BALANCE: Amount = Amount(1_000_000 * 1_000_000);

/// Everything a chain starts from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The chain id that every transaction must carry.
    pub chain_id: u64,
    /// Chain time of the genesis, in milliseconds.
    pub genesis_time_ms: u64,
    /// Protocol parameters.
    pub params: Params,
    /// Initial balances.
    pub allocations: Vec<Allocation>,
    /// Plausibility and retention bounds of meter readings.
    #[serde(default)]
    pub oracle: machina_oracle::OracleParams,
}

impl Genesis {
    /// A dev genesis: the six dev accounts funded, plus `extra` allocations.
    pub fn dev(chain_id: u64, genesis_time_ms: u64, extra: Vec<Allocation>) -> Genesis {
        let mut allocations: Vec<Allocation> = DEV_ACCOUNTS
            .iter()
            .map(|n| Allocation {
                address: Keypair::dev(n).address(),
                balance: DEV_BALANCE,
            })
            .collect();
        allocations.extend(extra);
        Genesis {
            chain_id,
            genesis_time_ms,
            params: Params::default_for(chain_id),
            allocations,
            oracle: machina_oracle::OracleParams::default(),
        }
    }

    /// The state writes of this genesis.
    pub fn changes(&self) -> Result<ChangeSet, machina_bank::BankError> {
        let empty: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut o = Overlay::new(&empty);
        params::store(&mut o, &self.params);
        machina_bank::init_genesis(&mut o, &self.allocations)?;
        machina_oracle::init_genesis(&mut o, &self.oracle);
        Ok(o.into_changes())
    }
}

//! Genesis: the chain's parameters and initial allocations.

use crate::params::{self, Params};
use crate::{ModuleError, ModuleGenesis};
use machina_bank::Allocation;
use machina_primitives::{Amount, Keypair};
use machina_state::{ChangeSet, Overlay};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names of the prefunded dev accounts, whose keys are derived from the names.
pub const DEV_ACCOUNTS: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];

/// The name of extra dev account `i` (`machina dev --accounts`): `dev-0`, `dev-1`, ...; its key
/// is derived from the name like the six above.
pub fn extra_dev_name(i: usize) -> String {
    format!("dev-{i}")
}

/// Whether `name` is a dev account's: one of [`DEV_ACCOUNTS`], or an [`extra_dev_name`].
pub fn is_dev_name(name: &str) -> bool {
    DEV_ACCOUNTS.contains(&name)
        || name
            .strip_prefix("dev-")
            .is_some_and(|n| !n.is_empty() && n.len() <= 4 && n.bytes().all(|b| b.is_ascii_digit()))
}

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
    /// Each module's section, under the module's name (`bank`, `oracle`, ...).
    #[serde(flatten)]
    pub modules: ModuleGenesis,
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
        let mut modules = ModuleGenesis::default();
        modules.bank.allocations = allocations;
        Genesis {
            chain_id,
            genesis_time_ms,
            params: Params::default_for(chain_id),
            modules,
        }
    }

    /// The initial balances (the bank's section).
    pub fn allocations(&self) -> &[Allocation] {
        &self.modules.bank.allocations
    }

    /// The state writes of this genesis.
    pub fn changes(&self) -> Result<ChangeSet, ModuleError> {
        let empty: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut o = Overlay::new(&empty);
        params::store(&mut o, &self.params);
        crate::modules::init_genesis(&mut o, &self.modules)?;
        Ok(o.into_changes())
    }
}

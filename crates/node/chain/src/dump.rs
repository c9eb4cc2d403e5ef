//! A dev chain's state written to a file and a new dev chain started from one
//! (`machina dev --dump-state FILE` and `--load-state FILE`).

use crate::chain::{dev_proposer, Chain};
use anyhow::{bail, Context};
use machina_primitives::Hash;
use machina_primitives::{Address, BlockHeader};
use machina_state::{AuthenticatedState, ChangeSet, SparseMerkleTree};
use machina_stf::Genesis;
use machina_store::Store;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A chain's state at one height: every entry, in hex, with the root they make.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDump {
    /// The chain it came from.
    pub chain_id: u64,
    /// The height it was taken at.
    pub height: u64,
    /// The state root at that height: a load checks the entries give it.
    pub state_root: Hash,
    /// Every entry, `[key, value]` in hex, in the tree's order.
    pub entries: Vec<(String, String)>,
}

impl Chain {
    /// The committed state as a dump.
    pub fn dump_state(&self) -> StateDump {
        let c = self.committed();
        StateDump {
            chain_id: self.chain_id(),
            height: c.head.height,
            state_root: c.head.state_root,
            entries: c
                .state
                .entries()
                .into_iter()
                .map(|(k, v)| (hex::encode(k), hex::encode(v)))
                .collect(),
        }
    }

    /// Starts a new chain in `data_dir` whose genesis state is `dump`'s (the history starts
    /// afresh at height 0; `genesis` gives the chain id, time and parameters). Refuses a data
    /// dir that holds a chain already, and a dump whose entries do not give its root.
    pub fn open_loaded(
        data_dir: &Path,
        genesis: &Genesis,
        dump: &StateDump,
    ) -> anyhow::Result<Chain> {
        let mut changes = ChangeSet::new();
        for (k, v) in &dump.entries {
            let k = hex::decode(k).context("a dumped key is not hex")?;
            let v = hex::decode(v).context("a dumped value is not hex")?;
            changes.insert(k, Some(v));
        }
        let root = SparseMerkleTree::new().apply(&changes);
        if root != dump.state_root {
            bail!(
                "the dump's entries give root {root}, not the {} it names: the file is damaged",
                dump.state_root
            );
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let store = Store::open(&data_dir.join("chain.redb"))?;
        if store.head()?.is_some() {
            bail!(
                "{} holds a chain already: load a state into a new data dir (--reset)",
                data_dir.display()
            );
        }
        init_store_with(&store, genesis, &changes)?;
        Chain::from_store(store, genesis, dev_proposer().address())
    }
}

/// Writes `genesis` with `changes` as its state (a loaded dump's, or the genesis' own).
pub(crate) fn init_store_with(
    store: &Store,
    genesis: &Genesis,
    changes: &ChangeSet,
) -> anyhow::Result<()> {
    let mut state = SparseMerkleTree::from_entries(std::iter::empty());
    let state_root = state.apply(changes);
    let header = BlockHeader {
        chain_id: genesis.chain_id,
        height: 0,
        parent_hash: Hash::ZERO,
        timestamp_ms: genesis.genesis_time_ms,
        proposer: Address::default(),
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root,
    };
    store.init(&serde_json::to_vec(genesis)?, &header, changes)?;
    Ok(())
}

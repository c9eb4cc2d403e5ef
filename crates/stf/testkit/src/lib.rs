//! Machina test kit: a chain in memory for the modules' and the stf's tests, one transaction
//! per block at a chain time the test sets, that checks every block writes only modules' keys.

use machina_primitives::{Address, Amount, BlockEnv, Keypair, Receipt};
use machina_state::{AuthenticatedState, SparseMerkleTree};
use machina_stf::{verify_txs, Action, BlockExecutor, Genesis, TxBody, TxError};

/// The fee every test transaction offers.
pub const FEE: u128 = machina_stf::params::DEFAULT_MIN_FEE.0;

/// The dev key called `name`.
pub fn key(name: &str) -> Keypair {
    Keypair::dev(name)
}

/// Asserts that every key a block wrote belongs to a module (`name/`) or to the stf itself
/// (`stf/`): the prefixes partition the state, so no module can write another's keys by
/// accident.
pub fn assert_keys_owned(changes: &machina_state::ChangeSet) {
    for key in changes.keys() {
        let owned = machina_stf::MODULES
            .iter()
            .map(|m| m.name)
            .chain(["stf"])
            .any(|name| key.starts_with(name.as_bytes()) && key.get(name.len()) == Some(&b'/'));
        assert!(
            owned,
            "key {:?} has no module's prefix",
            String::from_utf8_lossy(key)
        );
    }
}

/// The code of a receipt's failure, `ok`, or the code of a refusal to include. Every code a
/// test sees must be one some module (or the stf) lists as its own.
pub fn outcome(r: Result<Receipt, TxError>) -> String {
    let code = match r {
        Ok(r) => r.error.map_or("ok".into(), |e| e.code),
        Err(e) => e.code().into(),
    };
    let listed = code == "ok"
        || TxError::CODES.contains(&code.as_str())
        || machina_stf::MODULES
            .iter()
            .any(|m| m.error_codes.contains(&code.as_str()));
    assert!(listed, "code {code} is listed by no module");
    code
}

/// A reading of machine `id` on channel 0, unsigned.
pub fn reading(
    id: u64,
    seq: u64,
    t: u64,
    import_wh: u64,
    export_wh: u64,
) -> machina_oracle::MeterReading {
    machina_oracle::MeterReading {
        machine_id: id,
        channel: 0,
        seq,
        timestamp_ms: t,
        import_wh,
        export_wh,
    }
}

/// A chain from a dev genesis.
pub struct Chain {
    /// Its state.
    pub state: SparseMerkleTree,
    /// Height of the last block.
    pub height: u64,
    /// Chain time of the next block.
    pub now: u64,
    /// The end-of-block hooks' events of the last block.
    pub block_events: Vec<machina_primitives::Event>,
    chain_id: u64,
}

impl Chain {
    /// A dev genesis for `chain_id`, at time `now`.
    pub fn new(chain_id: u64, now: u64) -> Chain {
        Chain::from_genesis(&Genesis::dev(chain_id, 0, vec![]), now)
    }

    /// A chain from `genesis`, at time `now`.
    pub fn from_genesis(genesis: &Genesis, now: u64) -> Chain {
        let mut state = SparseMerkleTree::from_entries(std::iter::empty());
        state.apply(&genesis.changes().expect("genesis"));
        Chain {
            state,
            height: 0,
            now,
            block_events: Vec::new(),
            chain_id: genesis.chain_id,
        }
    }

    fn env(&self) -> BlockEnv {
        BlockEnv {
            chain_id: self.chain_id,
            height: self.height,
            timestamp_ms: self.now,
            proposer: Address([0xfe; 20]),
        }
    }

    /// The account's next nonce.
    pub fn nonce(&self, a: &Address) -> u64 {
        machina_bank::account(&self.state, a).nonce
    }

    /// The account's balance.
    pub fn balance(&self, a: &Address) -> u128 {
        machina_bank::account(&self.state, a).balance.0
    }

    /// Signs and executes one transaction in a block of its own; `Ok` is its receipt
    /// (success or not), `Err` means it could not be included.
    pub fn send_as(
        &mut self,
        signers: &[&Keypair],
        sender: Address,
        fee_payer: Option<Address>,
        actions: Vec<Action>,
    ) -> Result<Receipt, TxError> {
        let tx = TxBody {
            chain_id: self.chain_id,
            sender,
            nonce: self.nonce(&sender),
            // An EVM call buys its gas limit at the base fee (one micro per gas).
            fee: Amount(
                FEE + actions
                    .iter()
                    .map(|a| match a {
                        Action::Evm(e) => u128::from(e.gas_limit().unwrap_or(0)),
                        _ => 0,
                    })
                    .sum::<u128>(),
            ),
            expiry_height: self.height + 100,
            fee_payer,
            actions,
        }
        .sign(signers);
        self.execute(tx)
    }

    /// Executes a signed Ethereum transaction in a block of its own, framed as the node frames
    /// what `eth_sendRawTransaction` receives.
    pub fn send_eth(&mut self, raw: Vec<u8>) -> Result<Receipt, TxError> {
        let tx = machina_stf::wrap_ethereum(raw, self.height)?;
        self.execute(tx)
    }

    /// Verifies and executes one transaction in a block of its own.
    pub fn execute(&mut self, tx: machina_stf::Transaction) -> Result<Receipt, TxError> {
        let vtx = verify_txs(vec![tx]).pop().expect("one")?;
        self.height += 1;
        let mut exec = BlockExecutor::begin(&self.state, self.env());
        let receipt = exec.execute(&vtx)?.clone();
        let parts = exec.finish();
        assert_keys_owned(&parts.changes);
        self.state.apply(&parts.changes);
        self.block_events = parts.events;
        Ok(receipt)
    }

    /// The proposer of every block (who is paid the fees).
    pub fn proposer(&self) -> Address {
        self.env().proposer
    }

    /// The env of the next block.
    pub fn next_env(&self) -> BlockEnv {
        BlockEnv {
            height: self.height + 1,
            ..self.env()
        }
    }

    /// [`Chain::send_as`] from the signer's own account.
    pub fn send(&mut self, signer: &Keypair, actions: Vec<Action>) -> Result<Receipt, TxError> {
        self.send_as(&[signer], signer.address(), None, actions)
    }

    /// Sends and expects success.
    pub fn ok(&mut self, signer: &Keypair, actions: Vec<Action>) -> Receipt {
        let r = self.send(signer, actions).expect("included");
        assert!(r.success, "{:?}", r.error);
        r
    }

    /// The outcome's code of sending.
    pub fn code(&mut self, signer: &Keypair, actions: Vec<Action>) -> String {
        outcome(self.send(signer, actions))
    }

    /// An empty block at `now`: end-of-block work only. Returns the block hooks' events.
    pub fn tick(&mut self, now: u64) -> Vec<machina_primitives::Event> {
        self.now = now;
        self.height += 1;
        let exec = BlockExecutor::begin(&self.state, self.env());
        let parts = exec.finish();
        assert_keys_owned(&parts.changes);
        self.state.apply(&parts.changes);
        self.block_events = parts.events.clone();
        parts.events
    }
}

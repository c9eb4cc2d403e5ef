//! Deterministic simulations of a validator network on Commonware's deterministic runtime and
//! simulated network: lossy and slow links, partitions that heal, crashes with recovery from
//! storage, and Byzantine validators. Each seed replays identically; a failure names its
//! seed, and `MACHINA_SIM_SEED=s` runs that seed alone.

use commonware_consensus::simplex::mocks::conflicter::{self, Conflicter};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_cryptography::{Sha256, Signer as _, ed25519};
use commonware_glue::simulate::action::{Action, Crash, Schedule};
use commonware_glue::simulate::engine::{EngineDefinition, InitContext};
use commonware_glue::simulate::exit::ExitCondition;
use commonware_glue::simulate::plan::{PlanBuilder, PlanResult};
use commonware_glue::simulate::processed::ProcessedHeight;
use commonware_glue::simulate::property::{FinalizationProperty, Property};
use commonware_glue::simulate::reporter::MonitorReporter;
use commonware_glue::simulate::tracker::ProgressTracker;
use commonware_p2p::simulated::Link;
use commonware_runtime::{Clock, Handle, Quota, Spawner};
use commonware_utils::{Probability, ordered::Set};
use machina_bank::Allocation;
use machina_bank::BankAction;
use machina_chain::Chain;
use machina_consensus::engine::{self, CHANNELS};
use machina_consensus::{BlockLimits, Pacing, Setup, Timeouts, address_of};
use machina_primitives::{Address, Amount, Keypair, PublicKey};
use machina_staking::GenesisValidator;
use machina_stf::Genesis;
use machina_stf::TxBody;
use machina_store::Store;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "sim/slashing.rs"]
mod slashing;
use slashing::{EquivocatorsSlashed, equivocate};

const CHAIN_ID: u64 = 77;
/// Seeds per case in CI; each simulates tens of seconds of network time.
const SEEDS: u64 = 8;

/// One simulated validator network.
#[derive(Clone)]
struct Sim {
    keys: Vec<ed25519::PrivateKey>,
    /// Validators that run a Byzantine voter instead of the honest engine.
    byzantine: BTreeSet<usize>,
    /// Validators that run [`Equivocator`] instead of the honest engine.
    equivocators: BTreeSet<usize>,
    /// Each validator's disk: kept across its crashes, as a disk outlives a process.
    disks: Arc<Mutex<Vec<Store>>>,
    genesis: Genesis,
}

impl Sim {
    fn new(n: usize, byzantine: &[usize]) -> Self {
        let keys: Vec<ed25519::PrivateKey> =
            (0..n as u64).map(ed25519::PrivateKey::from_seed).collect();
        let mut allocations: Vec<Allocation> = (0..n)
            .map(|i| Allocation {
                address: worker(i).address(),
                balance: Amount(1_000_000_000),
            })
            .chain(keys.iter().map(|k| Allocation {
                address: address_of(&k.public_key()),
                balance: Amount(1_000_000_000),
            }))
            .collect();
        allocations.sort_by_key(|a| a.address);
        let mut genesis = Genesis::dev(CHAIN_ID, 0, allocations);
        // Every validator bonds stake at genesis: the equivocators lose part of theirs.
        genesis.modules.staking.validators = keys
            .iter()
            .map(|k| GenesisValidator {
                key: machina_key(&k.public_key()),
                amount: VALIDATOR_STAKE,
            })
            .collect();
        let disks = (0..n)
            .map(|_| Store::in_memory().expect("in-memory store"))
            .collect();
        Sim {
            keys,
            byzantine: byzantine.iter().copied().collect(),
            equivocators: BTreeSet::new(),
            disks: Arc::new(Mutex::new(disks)),
            genesis,
        }
    }

    /// Runs [`Equivocator`] as validators `which`.
    fn equivocating(mut self, which: &[usize]) -> Self {
        self.equivocators = which.iter().copied().collect();
        self
    }

    /// Every account that can hold value in the simulation.
    fn accounts(&self) -> Vec<Address> {
        let mut a: Vec<Address> = machina_stf::DEV_ACCOUNTS
            .iter()
            .map(|n| Keypair::dev(n).address())
            .collect();
        a.extend((0..self.keys.len()).map(|i| worker(i).address()));
        a.extend(self.keys.iter().map(|k| address_of(&k.public_key())));
        a.push(machina_staking::escrow_address());
        a.push(machina_staking::insurance_pool_address());
        a
    }
}

/// Stake each simulated validator bonds at genesis.
const VALIDATOR_STAKE: Amount = Amount(500_000_000);

fn machina_key(k: &ed25519::PublicKey) -> PublicKey {
    PublicKey(k.as_ref().try_into().expect("32 bytes"))
}

/// The account validator `i`'s clients send transfers from.
fn worker(i: usize) -> Keypair {
    Keypair::dev(&format!("sim-worker-{i}"))
}

/// What the harness inspects of a running validator.
#[derive(Clone)]
struct Node {
    chain: Option<Arc<Chain>>,
}

impl ProcessedHeight for Node {
    async fn processed_height(&self) -> u64 {
        self.chain.as_ref().map_or(0, |c| c.committed().head.height)
    }
}

impl EngineDefinition for Sim {
    type PublicKey = ed25519::PublicKey;
    type Engine = Handle<()>;
    type State = Node;

    fn participants(&self) -> Vec<ed25519::PublicKey> {
        self.keys.iter().map(|k| k.public_key()).collect()
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        CHANNELS.iter().map(|(c, _, q)| (*c, *q)).collect()
    }

    fn max_message_size(&self) -> u32 {
        engine::max_message_size(self.keys.len(), &BlockLimits::default())
    }

    async fn init(&self, ctx: InitContext<'_, ed25519::PublicKey>) -> (Handle<()>, Node) {
        let InitContext {
            context,
            index,
            public_key,
            oracle,
            channels,
            monitor,
            ..
        } = ctx;
        let validators = Set::from_iter_dedup(self.participants());
        let namespace = engine::namespace(CHAIN_ID);
        if self.byzantine.contains(&index) {
            let scheme =
                Scheme::signer(&namespace, validators, self.keys[index].clone()).expect("member");
            let votes = channels.into_iter().next().expect("vote channel");
            let voter = Conflicter::<_, _, Sha256>::new(context, conflicter::Config { scheme });
            return (voter.start(votes), Node { chain: None });
        }
        if self.equivocators.contains(&index) {
            let scheme =
                Scheme::signer(&namespace, validators, self.keys[index].clone()).expect("member");
            let votes = channels.into_iter().next().expect("vote channel");
            let handle = context.spawn(move |_| equivocate(scheme, votes));
            return (handle, Node { chain: None });
        }
        let store = self.disks.lock().expect("disks")[index]
            .reopened()
            .expect("the disk reopens");
        let proposer = address_of(public_key);
        let chain =
            Arc::new(Chain::from_store(store, &self.genesis, proposer).expect("chain opens"));
        let setup = Setup {
            chain: chain.clone(),
            key: self.keys[index].clone(),
            validators,
            namespace,
            partition: format!("v{index}"),
            limits: BlockLimits::default(),
            timeouts: Timeouts::default(),
            pacing: Pacing::default(),
        };
        spawn_workload(&context, chain.clone(), index, self.keys.len());
        let handle = engine::start(
            context,
            setup,
            channels,
            oracle.manager(),
            oracle.control(public_key.clone()),
            |finalizer| MonitorReporter::new(public_key.clone(), monitor, finalizer),
        )
        .await;
        (handle, Node { chain: Some(chain) })
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

/// Clients of validator `i`: a transfer to the next validator's worker now and then, one
/// at a time, through this validator's API path (admission, then gossip to the others).
fn spawn_workload<E: Spawner + Clock>(ctx: &E, chain: Arc<Chain>, i: usize, n: usize) {
    let key = worker(i);
    let to = worker((i + 1) % n).address();
    ctx.child("workload").spawn(move |ctx| async move {
        loop {
            ctx.sleep(Duration::from_millis(150)).await;
            let committed = chain.committed();
            let nonce = machina_bank::account(&committed.state, &key.address()).nonce;
            let tx = TxBody {
                chain_id: CHAIN_ID,
                sender: key.address(),
                nonce,
                fee: machina_stf::params::DEFAULT_MIN_FEE,
                expiry_height: committed.head.height + 1_000,
                fee_payer: None,
                actions: vec![
                    BankAction::Transfer {
                        to,
                        amount: Amount(1 + nonce as u128),
                    }
                    .into(),
                ],
            }
            .sign(&[&key]);
            if !chain.is_pending(&tx.hash()) {
                let _ = chain.submit_from_client(vec![tx]);
            }
        }
    });
}

/// Honest validators agree on the state root at every height they all committed, and no
/// value is created or destroyed.
#[derive(Clone)]
struct Agreement {
    accounts: Vec<Address>,
}

impl FinalizationProperty<Node> for Agreement {
    fn name(&self) -> &str {
        "same state roots and conserved supply"
    }

    fn check<'a>(
        &'a self,
        states: &'a [&'a Node],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let chains: Vec<&Arc<Chain>> = states.iter().filter_map(|s| s.chain.as_ref()).collect();
            let Some(common) = chains.iter().map(|c| c.committed().head.height).min() else {
                return Ok(());
            };
            for h in 1..=common {
                let roots: BTreeSet<_> = chains
                    .iter()
                    .map(|c| c.store().header(h).ok().flatten().map(|hd| hd.state_root))
                    .collect();
                if roots.len() != 1 {
                    return Err(format!("validators disagree at height {h}: {roots:?}"));
                }
            }
            for c in &chains {
                let state = c.committed().state;
                let held: u128 = self
                    .accounts
                    .iter()
                    .map(|a| machina_bank::account(&state, a).balance.0)
                    .sum();
                let supply = machina_bank::total_supply(&state).0;
                if held != supply {
                    return Err(format!("balances sum to {held}, supply is {supply}"));
                }
            }
            Ok(())
        })
    }
}

fn seeds() -> Vec<u64> {
    match std::env::var("MACHINA_SIM_SEED") {
        Ok(s) => vec![s.parse().expect("MACHINA_SIM_SEED is a number")],
        Err(_) => (0..SEEDS).collect(),
    }
}

fn lossy() -> Link {
    Link {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(15),
        success_rate: Probability::new(95, 100).expect("probability"),
    }
}

/// Runs `plan` for one seed on fresh disks, with the agreement and transfer properties.
fn run_seed(
    sim: Sim,
    seed: u64,
    plan: &impl Fn(PlanBuilder<Sim>) -> PlanBuilder<Sim>,
) -> PlanResult<Sim> {
    let accounts = sim.accounts();
    plan(PlanBuilder::new(sim))
        .seed(seed)
        .finalization_property(Agreement { accounts })
        .property(TransfersFinalized)
        .timeout(Duration::from_secs(600))
        .run()
        .unwrap_or_else(|e| panic!("{e} (replay with MACHINA_SIM_SEED={seed})"))
        .remove(0)
}

/// Runs `plan` for each seed (printing the seed first, so that a panic names it too) and
/// returns the number of crashes in each run.
fn run(
    n: usize,
    byzantine: &[usize],
    plan: impl Fn(PlanBuilder<Sim>) -> PlanBuilder<Sim>,
) -> Vec<u64> {
    run_with(|| Sim::new(n, byzantine), plan)
}

/// [`run`] on networks `make` builds, a fresh one (fresh disks) per seed.
fn run_with(
    make: impl Fn() -> Sim,
    plan: impl Fn(PlanBuilder<Sim>) -> PlanBuilder<Sim>,
) -> Vec<u64> {
    seeds()
        .into_iter()
        .map(|seed| {
            let sim = make();
            eprintln!(
                "simulating {} validators (byzantine {:?}, equivocating {:?}), seed {seed}",
                sim.keys.len(),
                sim.byzantine,
                sim.equivocators
            );
            let r = run_seed(sim, seed, &plan);
            eprintln!(
                "seed {seed}: {} crashes, {} scheduled actions",
                r.crashes, r.scheduled_actions
            );
            r.crashes
        })
        .collect()
}

/// Lossy links, `count` random validators crashing every `every` for `downtime`, until
/// `finalizations` blocks are final.
fn crashing(
    every: Duration,
    downtime: Duration,
    count: usize,
    finalizations: u64,
) -> impl Fn(PlanBuilder<Sim>) -> PlanBuilder<Sim> {
    move |p| {
        p.link(lossy())
            .crash(Crash::Random {
                frequency: every,
                downtime,
                count,
            })
            .required_finalizations(finalizations)
    }
}

/// Runs a crashing plan for each seed and checks that every run crashed validators.
fn run_crashing(n: usize, plan: impl Fn(PlanBuilder<Sim>) -> PlanBuilder<Sim>) {
    let crashes = run(n, &[], plan);
    assert!(
        crashes.iter().all(|&c| c > 0),
        "every run crashed validators: {crashes:?}"
    );
}

#[test]
fn four_validators_lossy_links_and_crashes() {
    let second = Duration::from_secs(1);
    run_crashing(4, crashing(second, second, 1, 40));
}

#[test]
fn seven_validators_partition_heals() {
    let keys: Vec<ed25519::PublicKey> = (0..7u64)
        .map(|s| ed25519::PrivateKey::from_seed(s).public_key())
        .collect();
    // Three validators are cut off from the other four: neither side has a quorum of
    // five, so nothing finalizes until the partition heals.
    let mut schedule = Schedule::new();
    let cut = Link {
        success_rate: Probability::new(0, 1).expect("probability"),
        ..lossy()
    };
    for a in 0..3 {
        for b in 3..7 {
            for (from, to) in [(a, b), (b, a)] {
                schedule = schedule.at(
                    Duration::from_secs(3),
                    Action::UpdateLink {
                        from: keys[from].clone(),
                        to: keys[to].clone(),
                        link: cut.clone(),
                    },
                );
            }
        }
    }
    schedule = schedule.at(Duration::from_secs(8), Action::Heal(lossy()));
    run(7, &[], move |p| {
        p.link(lossy())
            .crash(Crash::Schedule(schedule.clone()))
            .exit_condition(BlocksAfter {
                after_ms: 8_000,
                count: 5,
            })
            .property(BlocksAfter {
                after_ms: 8_000,
                count: 5,
            })
    });
}

/// Every honest validator finalized `count` blocks with a chain time past `after_ms`:
/// progress resumed after the partition healed. As an exit condition, the run ends once it
/// holds (or fails at the plan's timeout).
#[derive(Clone)]
struct BlocksAfter {
    after_ms: u64,
    count: u64,
}

impl BlocksAfter {
    fn blocks_after(&self, c: &Chain) -> u64 {
        let head = c.committed().head.height;
        (1..=head)
            .rev()
            .map_while(|h| c.store().header(h).ok().flatten())
            .take_while(|h| h.timestamp_ms > self.after_ms)
            .count() as u64
    }
}

impl ExitCondition<ed25519::PublicKey, Node> for BlocksAfter {
    fn name(&self) -> &str {
        "honest validators finalized blocks after the partition healed"
    }

    fn requires_polling(&self) -> bool {
        true
    }

    fn reached<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Node],
        _target_count: usize,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            Ok(states
                .iter()
                .filter_map(|s| s.chain.as_ref())
                .all(|c| self.blocks_after(c) >= self.count))
        })
    }
}

impl Property<ed25519::PublicKey, Node> for BlocksAfter {
    fn name(&self) -> &str {
        "finalizing resumed after the partition healed"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Node],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            for c in states.iter().filter_map(|s| s.chain.as_ref()) {
                let after = self.blocks_after(c);
                if after < self.count {
                    return Err(format!(
                        "{after} blocks finalized after {} ms, expected {}",
                        self.after_ms, self.count
                    ));
                }
            }
            Ok(())
        })
    }
}

#[test]
fn one_validator_alone_finalizes() {
    run(1, &[], |p| p.exit_condition(HonestHeight(20)));
}

/// Every honest validator committed at least this height (Byzantine ones commit nothing).
#[derive(Clone)]
struct HonestHeight(u64);

impl ExitCondition<ed25519::PublicKey, Node> for HonestHeight {
    fn name(&self) -> &str {
        "honest validators reached the height"
    }

    fn requires_polling(&self) -> bool {
        true
    }

    fn reached<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Node],
        _target_count: usize,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            Ok(states
                .iter()
                .filter_map(|s| s.chain.as_ref())
                .all(|c| c.committed().head.height >= self.0))
        })
    }
}

#[test]
fn one_byzantine_of_four_and_two_of_seven() {
    run(4, &[3], |p| {
        p.link(lossy()).exit_condition(HonestHeight(25))
    });
    run(7, &[1, 5], |p| {
        p.link(lossy()).exit_condition(HonestHeight(25))
    });
}

/// Validators that sign two notarize votes for every view: their honest peers submit the
/// evidence simplex reports, and the chain slashes them. The run ends once every honest
/// validator is past height 25 and has slashed every equivocator (a network that never
/// slashes one runs into the plan's timeout and fails).
#[test]
fn equivocating_validators_are_slashed_alike_on_every_honest_validator() {
    for (n, bad) in [(4, vec![3]), (7, vec![1, 5])] {
        let slashed = EquivocatorsSlashed(bad.iter().map(|&i| i as u64).collect());
        run_with(
            || Sim::new(n, &[]).equivocating(&bad),
            |p| {
                p.link(lossy())
                    .exit_condition(slashed.clone())
                    .property(slashed.clone())
            },
        );
    }
}

#[test]
fn seven_validators_crash_and_recover() {
    run_crashing(
        7,
        crashing(Duration::from_secs(2), Duration::from_secs(1), 2, 40),
    );
}

#[test]
fn a_seed_replays_identically() {
    let plan = crashing(Duration::from_secs(1), Duration::from_millis(500), 1, 20);
    let seed = seeds()[0];
    let once = || run_seed(Sim::new(4, &[]), seed, &plan).state;
    assert_eq!(once(), once(), "seed {seed} did not replay identically");
}

/// At the end, transactions submitted to validators were finalized: the workload moved value.
#[derive(Clone)]
struct TransfersFinalized;

impl Property<ed25519::PublicKey, Node> for TransfersFinalized {
    fn name(&self) -> &str {
        "client transfers are finalized"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Node],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            for c in states.iter().filter_map(|s| s.chain.as_ref()) {
                let c = c.committed();
                let sent: u64 = (0..16)
                    .map(|i| machina_bank::account(&c.state, &worker(i).address()).nonce)
                    .sum();
                eprintln!(
                    "validator at height {}: {sent} transfers finalized",
                    c.head.height
                );
                if sent == 0 {
                    return Err(format!("no transfer finalized by height {}", c.head.height));
                }
            }
            Ok(())
        })
    }
}

//! One validator's consensus stack: simplex votes, marshal's finalized block layer with its
//! backfill resolver and broadcast buffer, the Machina application, and transaction gossip.
//! The same wiring runs on the deterministic runtime with a simulated network (tests) and on
//! tokio with authenticated TCP (`machina validator`).

use crate::app::{App, Executed, Pacing};
use crate::block::{BlockLimits, ConsensusBlock};
use crate::evidence;
use crate::finalizer::{self, Finalizer};
use crate::gossip;
use commonware_broadcast::buffered;
use commonware_consensus::Reporter;
use commonware_consensus::marshal::Update;
use commonware_consensus::marshal::core::Actor as MarshalActor;
use commonware_consensus::marshal::resolver::p2p as marshal_resolver;
use commonware_consensus::marshal::standard::{Deferred, Standard};
use commonware_consensus::marshal::{self, Start};
use commonware_consensus::simplex::config::{Floor, ForwardPolicy, SkipPolicy};
use commonware_consensus::simplex::elector::RoundRobin;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::{self, SkipBudget};
use commonware_consensus::types::{Epoch, FixedEpocher, ViewDelta};
use commonware_cryptography::certificate::{ConstantProvider, Verifier as _};
use commonware_cryptography::{Digested, Digestible, Sha256, ed25519, sha256};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Quota, Spawner, Storage};
use commonware_storage::archive::prunable;
use commonware_storage::translator::TwoCap;
use commonware_utils::{NZDuration, NZU16, NZU32, NZU64, NZUsize, ordered::Set};
use machina_chain::Chain;
use machina_primitives::Keypair;
use rand_core::CryptoRng;
use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

/// Messages per second each peer may send on a consensus channel before it is throttled.
const CONSENSUS_QUOTA: Quota = Quota::per_second(NZU32!(4096));
/// Gossip messages per second from each peer (each up to 4,096 transactions).
const GOSSIP_QUOTA: Quota = Quota::per_second(NZU32!(128));
/// The p2p channels of a validator, in this order, with what each peer may send on each.
pub const CHANNELS: [(u64, &str, Quota); 6] = [
    (0, "votes", CONSENSUS_QUOTA),
    (1, "certificates", CONSENSUS_QUOTA),
    (2, "simplex resolver", CONSENSUS_QUOTA),
    (3, "marshal backfill", CONSENSUS_QUOTA),
    (4, "block broadcast", CONSENSUS_QUOTA),
    (5, "transaction gossip", GOSSIP_QUOTA),
];
/// Queued messages per actor mailbox.
const MAILBOX_SIZE: NonZeroUsize = NZUsize!(1024);
/// Finalized blocks marshal hands over before waiting for their commit.
const MAX_PENDING_ACKS: NonZeroUsize = NZUsize!(16);
/// Archive and journal tuning (alto's devnet values, scaled down).
const PAGE_SIZE: u16 = 4096;
const PAGE_CACHE_PAGES: usize = 4096;
const IO_BUFFER: NonZeroUsize = NZUsize!(1 << 16);
const ITEMS_PER_SECTION: NonZeroU64 = NZU64!(4096);

/// Timeouts of simplex. The leader waits at most `Pacing::idle_wait` for transactions,
/// well inside `leader_timeout`.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// How long a validator waits for the leader's proposal before voting to skip the view.
    pub leader: Duration,
    /// How long it waits for a proposal to be certified.
    pub certification: Duration,
    /// How often it repeats its timeout vote while a view is stuck.
    pub retry: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            leader: Duration::from_secs(1),
            certification: Duration::from_millis(1500),
            retry: Duration::from_secs(2),
        }
    }
}

/// What a validator's engine is built from.
#[derive(Clone)]
pub struct Setup {
    /// The chain it drives.
    pub chain: Arc<Chain>,
    /// Its consensus key (the same ed25519 key as its Machina account).
    pub key: ed25519::PrivateKey,
    /// The validator set.
    pub validators: Set<ed25519::PublicKey>,
    /// Separates this chain's signatures from any other's.
    pub namespace: Vec<u8>,
    /// Prefix of its storage partitions.
    pub partition: String,
    /// Decoding limits of blocks.
    pub limits: BlockLimits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// When the leader proposes.
    pub pacing: Pacing,
}

/// The largest p2p message a validator sends: the bound for the network layer.
pub fn max_message_size(validators: usize, limits: &BlockLimits) -> u32 {
    let n = u32::try_from(validators).expect("validator sets are small");
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, sha256::Digest>(n),
        marshal::max_payload_size::<Standard<ConsensusBlock>, Scheme>(n, limits),
        gossip::MAX_GOSSIP_BYTES,
    ])
}

/// The consensus namespace for a chain id (the staking module verifies evidence under it).
pub fn namespace(chain_id: u64) -> Vec<u8> {
    machina_staking::consensus_namespace(chain_id)
}

/// Builds and starts one validator's stack; the returned handle ends if consensus stops.
/// `channels` are registered in the order of [`CHANNELS`]; `peers` tells which peers exist
/// and `blocker` cuts off a peer that misbehaves. Marshal reports finalized blocks to the
/// finalizer through `wrap` (`|f| f` in a validator; a simulation observes them this way).
pub async fn start<E, S, R, P, B, W>(
    ctx: E,
    setup: Setup,
    channels: Vec<(S, R)>,
    peers: P,
    blocker: B,
    wrap: impl FnOnce(Finalizer) -> W,
) -> Handle<()>
where
    E: Spawner + Metrics + Clock + Storage + CryptoRng,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: Provider<PublicKey = ed25519::PublicKey> + Clone,
    B: Blocker<PublicKey = ed25519::PublicKey> + Clone,
    W: Reporter<Activity = Update<ConsensusBlock>>,
{
    use commonware_cryptography::Signer as _;
    assert_eq!(
        channels.len(),
        CHANNELS.len(),
        "one channel pair per CHANNELS entry"
    );
    let mut channels = channels.into_iter();
    let mut next = || channels.next().expect("checked above");
    let (votes, certificates, simplex_resolver, backfill, broadcast, tx_gossip) =
        (next(), next(), next(), next(), next(), next());
    let public_key = setup.key.public_key();
    let scheme = Scheme::signer(
        &setup.namespace,
        setup.validators.clone(),
        setup.key.clone(),
    )
    .expect("this validator's key is in the validator set");
    let prefix = setup.partition.clone();
    let page_cache = CacheRef::new(NZU16!(PAGE_SIZE), NZUsize!(PAGE_CACHE_PAGES));

    let resolver = marshal_resolver::init(
        ctx.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: public_key.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: MAILBOX_SIZE,
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        backfill,
    );
    let (broadcast_engine, buffer) = buffered::Engine::new(
        ctx.child("broadcast"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size: MAILBOX_SIZE,
            deque_size: 10,
            priority: false,
            codec_config: setup.limits,
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(broadcast);

    let finalizations = prunable::Archive::init(
        ctx.child("finalizations_by_height"),
        archive_config(
            &prefix,
            "finalizations",
            &page_cache,
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .expect("opening the finalizations archive");
    let blocks = prunable::Archive::init(
        ctx.child("finalized_blocks"),
        archive_config(&prefix, "blocks", &page_cache, setup.limits),
    )
    .await
    .expect("opening the blocks archive");

    let genesis_header = setup
        .chain
        .store()
        .header(0)
        .expect("reading the store")
        .expect("the store has a genesis header");
    let genesis = ConsensusBlock::genesis(genesis_header);
    let genesis_digest = genesis.digest();
    let epocher = FixedEpocher::new(NZU64!(u64::MAX));
    let (marshal_actor, marshal_mailbox, floor) =
        MarshalActor::<_, Standard<ConsensusBlock>, _, _, _, _, _>::init(
            ctx.child("marshal"),
            finalizations,
            blocks,
            marshal::Config {
                provider: ConstantProvider::new(scheme.clone()),
                epocher: epocher.clone(),
                start: Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
                partition_prefix: prefix.clone(),
                mailbox_size: MAILBOX_SIZE,
                view_retention: ViewDelta::new(256),
                prunable_items_per_section: ITEMS_PER_SECTION,
                page_cache: page_cache.clone(),
                replay_buffer: IO_BUFFER,
                key_write_buffer: IO_BUFFER,
                value_write_buffer: IO_BUFFER,
                block_codec_config: setup.limits,
                max_repair: NZUsize!(20),
                max_pending_acks: MAX_PENDING_ACKS,
                strategy: Sequential,
            },
        )
        .await;
    // Marshal acknowledges a block only after the store committed it, so it may lag the
    // store (a crash between commit and acknowledgement) but never lead it.
    let head = setup.chain.committed().head.height;
    assert!(
        floor.processed().is_none_or(|p| p.height().get() <= head),
        "consensus storage is ahead of the chain store: the data dir is damaged"
    );

    let executed = Executed::default();
    let app = App::new(
        setup.chain.clone(),
        executed.clone(),
        setup.limits,
        setup.pacing,
    );
    let deferred = Deferred::new(ctx.child("deferred"), app, marshal_mailbox.clone(), epocher);
    let account = Keypair::from_seed(
        commonware_codec::Encode::encode(&setup.key)[..]
            .try_into()
            .expect("an ed25519 private key encodes as its 32-byte seed"),
    );
    let vote_book = crate::votes::VoteBook::new(&setup.validators);
    let book = vote_book.clone();
    setup
        .chain
        .set_consensus_view(Arc::new(move || book.view()));
    let simplex_reporter = crate::votes::Recorder::new(
        vote_book,
        evidence::start(
            ctx.child("evidence"),
            setup.chain.clone(),
            account,
            deferred.clone(),
        ),
    );
    let reporter = finalizer::start(ctx.child("finalizer"), setup.chain.clone(), executed);
    marshal_actor.start(wrap(reporter), buffer, resolver);

    gossip::start(ctx.child("gossip"), setup.chain.clone(), tx_gossip);

    let engine = simplex::Engine::new(
        ctx.child("simplex"),
        simplex::Config {
            scheme,
            elector: RoundRobin::<Sha256>::default(),
            blocker,
            automaton: deferred.clone(),
            relay: deferred,
            reporter: simplex_reporter,
            strategy: Sequential,
            partition: format!("{prefix}-simplex"),
            mailbox_size: MAILBOX_SIZE,
            epoch: Epoch::zero(),
            floor: Floor::Genesis(genesis_digest),
            replay_buffer: IO_BUFFER,
            write_buffer: IO_BUFFER,
            page_cache,
            leader_timeout: setup.timeouts.leader,
            certification_timeout: setup.timeouts.certification,
            timeout_retry: setup.timeouts.retry,
            view_retention: ViewDelta::new(256),
            skip: SkipPolicy::Enabled {
                timeout: Duration::from_secs(5),
                budget: SkipBudget::Participants,
            },
            fetch_timeout: NZDuration!(Duration::from_secs(1)),
            fetch_retry_delay: Duration::from_millis(250),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    engine.start(votes, certificates, simplex_resolver)
}

fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: &CacheRef,
    codec_config: C,
) -> prunable::Config<TwoCap, C> {
    prunable::Config {
        translator: TwoCap,
        metadata_partition: format!("{prefix}-{name}-metadata"),
        key_partition: format!("{prefix}-{name}-key"),
        key_page_cache: page_cache.clone(),
        value_partition: format!("{prefix}-{name}-value"),
        compression: None,
        codec_config,
        items_per_section: ITEMS_PER_SECTION,
        key_write_buffer: IO_BUFFER,
        value_write_buffer: IO_BUFFER,
        replay_buffer: IO_BUFFER,
    }
}

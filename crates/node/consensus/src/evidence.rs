//! Equivocation evidence: when simplex reports that a validator signed two conflicting votes,
//! this validator checks the evidence against its committed state and submits it as a
//! staking transaction, which slashes the offender on every validator at the same height.
//!
//! Simplex reports evidence before it checks the second signature, so nothing is paid for
//! until [`machina_staking::check_equivocation`] accepted it. Simplex reports an offender once
//! per peer (it then blocks the peer), so the evidence is kept until the chain has jailed the
//! offender and submitted again if a submission did not land; more evidence of a jailed
//! offender would only spend fees.

use commonware_actor::Feedback;
use commonware_consensus::Reporter;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Activity;
use commonware_cryptography::sha256;
use commonware_runtime::{Clock, Spawner};
use futures::StreamExt;
use futures::channel::mpsc;
use futures::future::Either;
use machina_chain::Chain;
use machina_primitives::{Keypair, PublicKey};
use machina_staking::Subject;
use machina_staking::{Equivocation, StakingAction};
use machina_stf::TxBody;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Evidence reports waiting to be checked; when full, a report is dropped (simplex reports
/// each offence to every honest validator, and one of them is enough).
pub const MAX_PENDING_EVIDENCE: usize = 64;
/// Blocks an evidence transaction stays valid; if the offender is not slashed by then, the
/// evidence is submitted again.
const RESUBMIT_AFTER_BLOCKS: u64 = 20;
/// How often pending evidence is looked at.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// The reporter simplex hands its activity to: everything goes on to `inner` (marshal's), and
/// a copy of each equivocation to the evidence task.
#[derive(Clone)]
pub struct EvidenceReporter<R> {
    inner: R,
    queue: mpsc::Sender<Equivocation>,
}

impl<R> Reporter for EvidenceReporter<R>
where
    R: Reporter<Activity = Activity<Scheme, sha256::Digest>>,
{
    type Activity = Activity<Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        let e = match &activity {
            Activity::ConflictingNotarize(e) => Some(Equivocation::Notarize(e.clone())),
            Activity::ConflictingFinalize(e) => Some(Equivocation::Finalize(e.clone())),
            Activity::NullifyFinalize(e) => Some(Equivocation::NullifyFinalize(e.clone())),
            _ => None,
        };
        if let Some(e) = e {
            // Never blocks simplex: a full queue drops the report.
            let _ = self.queue.try_send(e);
        }
        self.inner.report(activity)
    }
}

/// Wraps `inner` and starts the task that checks and submits evidence as `key`'s account.
pub fn start<E: Spawner + Clock, R>(
    ctx: E,
    chain: Arc<Chain>,
    key: Keypair,
    inner: R,
) -> EvidenceReporter<R> {
    let (queue, mut inbox) = mpsc::channel::<Equivocation>(MAX_PENDING_EVIDENCE);
    ctx.spawn(move |ctx| async move {
        let mut pending = Pending::default();
        loop {
            let next = inbox.next();
            let tick = ctx.sleep(RETRY_EVERY);
            futures::pin_mut!(next, tick);
            match futures::future::select(next, tick).await {
                Either::Left((Some(e), _)) => pending.add(&chain, e),
                Either::Left((None, _)) => return,
                Either::Right(_) => {}
            }
            pending.submit_due(&chain, &key);
        }
    });
    EvidenceReporter { inner, queue }
}

/// Verified evidence per offender, until the chain has slashed it.
#[derive(Default)]
struct Pending {
    /// Offender -> (evidence, committed height when last submitted).
    by_offender: BTreeMap<PublicKey, (Vec<u8>, Option<u64>)>,
}

impl Pending {
    /// Keeps `e` if it verifies against the committed state and names a new offender.
    fn add(&mut self, chain: &Chain, e: Equivocation) {
        let evidence = e.encode();
        let committed = chain.committed();
        match machina_staking::check_equivocation(&committed.state, chain.chain_id(), &evidence) {
            Ok(o) => {
                if self.by_offender.len() < MAX_PENDING_EVIDENCE {
                    self.by_offender
                        .entry(o.offender)
                        .or_insert((evidence, None));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "simplex reported evidence that does not verify");
            }
        }
    }

    /// Submits the evidence of each offender not yet slashed, again if its last submission
    /// did not land within [`RESUBMIT_AFTER_BLOCKS`]; forgets offenders the chain jailed.
    fn submit_due(&mut self, chain: &Chain, key: &Keypair) {
        let committed = chain.committed();
        let height = committed.head.height;
        self.by_offender.retain(|offender, _| {
            let subject = Subject::Validator { key: *offender };
            !machina_staking::is_jailed(&committed.state, &subject, height)
        });
        for (offender, (evidence, last)) in &mut self.by_offender {
            if last.is_some_and(|h| height < h + RESUBMIT_AFTER_BLOCKS) {
                continue;
            }
            *last = Some(height);
            tracing::warn!(
                offender = %offender,
                evidence = %hex::encode(&*evidence),
                "a validator equivocated: submitting the evidence"
            );
            submit(chain, key, evidence.clone());
        }
    }
}

fn submit(chain: &Chain, key: &Keypair, evidence: Vec<u8>) {
    let committed = chain.committed();
    let nonce = machina_bank::account(&committed.state, &key.address()).nonce;
    let tx = TxBody {
        chain_id: chain.chain_id(),
        sender: key.address(),
        nonce,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: committed.head.height + RESUBMIT_AFTER_BLOCKS,
        fee_payer: None,
        actions: vec![StakingAction::ProveValidatorEquivocation { evidence }.into()],
    }
    .sign(&[key]);
    if let Some(Err(err)) = chain.submit_from_client(vec![tx]).pop() {
        tracing::warn!(error = %err, "the evidence transaction was refused");
    }
}

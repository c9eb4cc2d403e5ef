//! Equivocation evidence: when simplex reports that a validator signed two conflicting votes,
//! this validator checks the evidence against its committed state and submits it as a
//! staking transaction, which slashes the offender on every validator at the same height.
//!
//! Simplex reports evidence before it checks the second signature, so nothing is paid for
//! until [`machina_staking::check_equivocation`] accepted it. Each offender is reported once
//! per process: the first slash jails it, and more evidence of the same misbehaviour would
//! only spend fees.

use commonware_actor::Feedback;
use commonware_consensus::Reporter;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Activity;
use commonware_cryptography::sha256;
use commonware_runtime::Spawner;
use futures::StreamExt;
use futures::channel::mpsc;
use machina_chain::Chain;
use machina_primitives::{Keypair, PublicKey};
use machina_staking::{Equivocation, StakingAction};
use machina_stf::TxBody;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Evidence reports waiting to be checked; when full, a report is dropped (simplex reports
/// each offence to every honest validator, and one of them is enough).
pub const MAX_PENDING_EVIDENCE: usize = 64;
/// Blocks an evidence transaction stays valid.
const EVIDENCE_TX_LIFETIME: u64 = 1_000;

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
pub fn start<E: Spawner, R>(
    ctx: E,
    chain: Arc<Chain>,
    key: Keypair,
    inner: R,
) -> EvidenceReporter<R> {
    let (queue, mut inbox) = mpsc::channel::<Equivocation>(MAX_PENDING_EVIDENCE);
    ctx.spawn(move |_| async move {
        let mut reported = BTreeSet::new();
        while let Some(e) = inbox.next().await {
            submit(&chain, &key, &e, &mut reported);
        }
    });
    EvidenceReporter { inner, queue }
}

fn submit(chain: &Chain, key: &Keypair, e: &Equivocation, reported: &mut BTreeSet<PublicKey>) {
    let committed = chain.committed();
    let evidence = e.encode();
    let offence =
        match machina_staking::check_equivocation(&committed.state, chain.chain_id(), &evidence) {
            Ok(o) => o,
            Err(err) => {
                tracing::warn!(error = %err, "simplex reported evidence that does not verify");
                return;
            }
        };
    if !reported.insert(offence.offender) {
        return;
    }
    tracing::warn!(
        offender = %offence.offender,
        view = offence.view,
        evidence = %hex::encode(&evidence),
        "a validator equivocated: submitting the evidence"
    );
    let nonce = machina_bank::account(&committed.state, &key.address()).nonce;
    let tx = TxBody {
        chain_id: chain.chain_id(),
        sender: key.address(),
        nonce,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: committed.head.height + EVIDENCE_TX_LIFETIME,
        fee_payer: None,
        actions: vec![StakingAction::ProveValidatorEquivocation { evidence }.into()],
    }
    .sign(&[key]);
    if let Some(Err(err)) = chain.submit_from_client(vec![tx]).pop() {
        tracing::warn!(error = %err, "the evidence transaction was refused");
    }
}

//! Slashing in the simulation: a validator that double-votes, and the property that every
//! honest validator slashed it alike.

use super::{Node, VALIDATOR_STAKE, machina_key};
use commonware_codec::{DecodeExt as _, Encode as _};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Notarize, Proposal, Vote};
use commonware_consensus::types::{Round, View};
use commonware_consensus::{Epochable as _, Viewable as _};
use commonware_cryptography::sha256::Digest as Sha256Digest;
use commonware_cryptography::{Hasher as _, Sha256, Signer as _, ed25519};
use commonware_glue::simulate::exit::ExitCondition;
use commonware_glue::simulate::property::Property;
use commonware_glue::simulate::tracker::ProgressTracker;
use commonware_p2p::{Receiver, Recipients, Sender};
use machina_chain::Chain;
use machina_primitives::{Amount, PublicKey};
use machina_staking::Subject;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// At the end, every equivocating validator was slashed on evidence its honest peers
/// submitted: on every honest validator the same slashes at the same heights, and less stake
/// than it bonded at genesis.
#[derive(Clone)]
pub struct EquivocatorsSlashed(pub Vec<u64>);

impl EquivocatorsSlashed {
    fn keys(&self) -> impl Iterator<Item = (u64, PublicKey)> + '_ {
        self.0.iter().map(|&i| {
            (
                i,
                machina_key(&ed25519::PrivateKey::from_seed(i).public_key()),
            )
        })
    }
}

impl ExitCondition<ed25519::PublicKey, Node> for EquivocatorsSlashed {
    fn name(&self) -> &str {
        "honest validators are past height 25 and slashed every equivocator"
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
            Ok(states.iter().filter_map(|s| s.chain.as_ref()).all(|c| {
                let state = c.committed().state;
                c.committed().head.height >= 25
                    && self.keys().all(|(_, key)| {
                        machina_staking::stake(&state, &Subject::Validator { key }).slashed_total
                            > Amount::ZERO
                    })
            }))
        })
    }
}

impl Property<ed25519::PublicKey, Node> for EquivocatorsSlashed {
    fn name(&self) -> &str {
        "equivocating validators are slashed alike everywhere"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a Node],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let chains: Vec<&Arc<Chain>> = states.iter().filter_map(|s| s.chain.as_ref()).collect();
            let common = chains
                .iter()
                .map(|c| c.committed().head.height)
                .min()
                .unwrap_or(0);
            let mut seen = BTreeSet::new();
            for c in &chains {
                let slashes = slashes_until(c, common);
                for (i, key) in self.keys() {
                    let id = key.to_string();
                    if !slashes.iter().any(|(_, subject, _)| *subject == id) {
                        return Err(format!("validator {i} was not slashed by height {common}"));
                    }
                    let left =
                        machina_staking::total(&c.committed().state, &Subject::Validator { key });
                    if left >= VALIDATOR_STAKE {
                        return Err(format!(
                            "validator {i} still has {left} of {VALIDATOR_STAKE}"
                        ));
                    }
                }
                eprintln!("slashes up to height {common}: {slashes:?}");
                seen.insert(slashes);
            }
            if seen.len() != 1 {
                return Err(format!("honest validators saw different slashes: {seen:?}"));
            }
            Ok(())
        })
    }
}

/// The `slashed` events of a chain's transactions up to `height`: (height, subject, amount).
fn slashes_until(c: &Chain, height: u64) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    for h in 1..=height {
        for tx in c.store().block_tx_hashes(h).expect("store reads") {
            let rec = c.store().tx(&tx).expect("store reads").expect("indexed tx");
            for e in rec.receipt.events.iter().filter(|e| e.kind == "slashed") {
                out.push((
                    h,
                    e.attrs["subject"].to_string(),
                    e.attrs["amount"].to_string(),
                ));
            }
        }
    }
    out
}

/// A Byzantine voter that, on every vote it hears for view v, signs two notarize votes for
/// different proposals of view v + 1 and sends both at once: they reach its peers before
/// those peers are done with v + 1, so each peer's simplex sees the conflict. (Commonware's
/// `Conflicter` answers a vote with a conflicting one for the same view, which peers that
/// already finalized the view ignore.)
pub async fn equivocate<S: Sender, R: Receiver>(
    scheme: Scheme,
    (mut sender, mut receiver): (S, R),
) {
    let mut done = BTreeSet::new();
    while let Ok((_, msg)) = receiver.recv().await {
        let Ok(vote) = Vote::<Scheme, Sha256Digest>::decode(msg) else {
            continue;
        };
        let next = vote.view().get() + 1;
        if !done.insert(next) {
            continue;
        }
        let round = Round::new(vote.epoch(), View::new(next));
        for side in [b"left", b"rght"] {
            let payload = Sha256::hash(&[side, &next.to_be_bytes()]);
            let proposal = Proposal::new(round, View::new(next - 1), payload);
            let n = Notarize::sign(&scheme, proposal).expect("a member signs");
            let _ = sender.send(Recipients::All, Vote::Notarize(n).encode(), true);
        }
    }
}

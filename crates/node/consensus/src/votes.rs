//! Each validator's last votes as this validator saw them: simplex reports every notarize,
//! nullify and finalize vote it receives (its own included), and [`Recorder`] notes the view
//! and the local time of the latest of each kind per signer, for `/v1/consensus/validators`
//! and the dashboard's overview. Bounded by the validator set.

use commonware_actor::Feedback;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{Activity, Attributable};
use commonware_consensus::{Reporter, Viewable};
use commonware_cryptography::{ed25519, sha256};
use commonware_utils::ordered::Set;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A vote's view and when this validator received it (ms since the epoch, local clock).
#[derive(Clone, Copy, Default)]
struct Seen {
    view: u64,
    at_ms: u64,
}

/// The last vote of each kind from one validator.
#[derive(Clone, Copy, Default)]
struct LastVotes {
    notarize: Option<Seen>,
    nullify: Option<Seen>,
    finalize: Option<Seen>,
}

/// Every validator's last votes, in the validator set's order.
pub struct VoteBook {
    keys: Vec<String>,
    last: Mutex<Vec<LastVotes>>,
}

impl VoteBook {
    /// An empty book for `validators`.
    pub fn new(validators: &Set<ed25519::PublicKey>) -> Arc<VoteBook> {
        let keys: Vec<String> = validators
            .iter()
            .map(|k| format!("0x{}", k.to_string().trim_start_matches("0x")))
            .collect();
        Arc::new(VoteBook {
            last: Mutex::new(vec![LastVotes::default(); keys.len()]),
            keys,
        })
    }

    fn note(&self, signer: usize, view: u64, pick: fn(&mut LastVotes) -> &mut Option<Seen>) {
        let mut last = self.last.lock().expect("vote book lock");
        let Some(v) = last.get_mut(signer) else {
            return;
        };
        let slot = pick(v);
        if slot.is_none_or(|s| s.view <= view) {
            *slot = Some(Seen {
                view,
                at_ms: machina_chain::now_ms(),
            });
        }
    }

    /// The book as JSON: each validator's key and its last notarize, nullify and finalize.
    pub fn view(&self) -> Value {
        let seen = |s: Option<Seen>| s.map(|s| json!({"view": s.view, "at_ms": s.at_ms}));
        let last = self.last.lock().expect("vote book lock").clone();
        let validators: Vec<Value> = self
            .keys
            .iter()
            .zip(last)
            .enumerate()
            .map(|(i, (key, v))| {
                json!({
                    "index": i,
                    "public_key": key,
                    "last_notarize": seen(v.notarize),
                    "last_nullify": seen(v.nullify),
                    "last_finalize": seen(v.finalize),
                })
            })
            .collect();
        json!({"consensus": "simplex", "validators": validators})
    }
}

/// Passes simplex's activity on to `inner` after noting each vote in the book.
#[derive(Clone)]
pub struct Recorder<R> {
    book: Arc<VoteBook>,
    inner: R,
}

impl<R> Recorder<R> {
    /// Wraps `inner`.
    pub fn new(book: Arc<VoteBook>, inner: R) -> Self {
        Recorder { book, inner }
    }
}

impl<R> Reporter for Recorder<R>
where
    R: Reporter<Activity = Activity<Scheme, sha256::Digest>>,
{
    type Activity = Activity<Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        let signer = |p: commonware_utils::Participant| usize::from(p);
        match &activity {
            Activity::Notarize(v) => self
                .book
                .note(signer(v.signer()), v.view().get(), |l| &mut l.notarize),
            Activity::Nullify(v) => self
                .book
                .note(signer(v.signer()), v.view().get(), |l| &mut l.nullify),
            Activity::Finalize(v) => self
                .book
                .note(signer(v.signer()), v.view().get(), |l| &mut l.finalize),
            _ => {}
        }
        self.inner.report(activity)
    }
}

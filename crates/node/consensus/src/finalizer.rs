//! Applies finalized blocks to the chain, in height order, once each.

use crate::app::Executed;
use crate::block::ConsensusBlock;
use commonware_actor::Feedback;
use commonware_consensus::Reporter;
use commonware_consensus::marshal::Update;
use commonware_cryptography::Digested;
use commonware_runtime::Spawner;
use commonware_utils::acknowledgement::{Acknowledgement, Exact};
use futures::StreamExt;
use futures::channel::mpsc;
use machina_chain::Chain;
use std::sync::Arc;

/// Finalized blocks handed over by marshal and not yet committed. Marshal waits for an
/// acknowledgement before it sends more than its `max_pending_acks`, which bounds this queue.
type Queue = mpsc::UnboundedSender<(Digested<ConsensusBlock>, Exact)>;

/// Marshal's reporter: queues finalized blocks for the commit task.
#[derive(Clone)]
pub struct Finalizer {
    queue: Queue,
}

impl Reporter for Finalizer {
    type Activity = Update<ConsensusBlock>;

    fn report(&mut self, activity: Update<ConsensusBlock>) -> Feedback {
        match activity {
            Update::Block(block, ack) => {
                if self.queue.unbounded_send((block, ack)).is_err() {
                    return Feedback::Closed;
                }
            }
            Update::Tip(..) => {}
        }
        Feedback::Ok
    }
}

/// Starts the commit task and returns the reporter that feeds it.
pub fn start<E: Spawner>(ctx: E, chain: Arc<Chain>, executed: Executed) -> Finalizer {
    let (queue, mut rx) = mpsc::unbounded::<(Digested<ConsensusBlock>, Exact)>();
    ctx.child("finalizer").spawn(move |ctx| async move {
        while let Some((block, ack)) = rx.next().await {
            let (chain, executed) = (chain.clone(), executed.clone());
            ctx.child("commit")
                .shared(true)
                .spawn(move |_| async move { commit(&chain, &executed, block.inner()) })
                .await
                .expect("commit task stopped");
            // Only now: marshal's processed height must never pass what the store holds,
            // so a crash before this line makes marshal deliver the block again.
            ack.acknowledge();
        }
    });
    Finalizer { queue }
}

/// Commits a finalized block. A block at or below the head (delivered again after a
/// restart) must be the one committed there; anything else would be a safety failure of
/// consensus, and the node stops rather than diverge.
fn commit(chain: &Chain, executed: &Executed, block: &ConsensusBlock) {
    let header = block.header();
    let head = chain.committed();
    if header.height <= head.head.height {
        let stored = chain
            .store()
            .header(header.height)
            .expect("reading the store")
            .expect("committed heights have headers");
        assert_eq!(
            stored.hash(),
            header.hash(),
            "finalized block {} differs from the committed one",
            header.height
        );
        return;
    }
    assert_eq!(
        header.height,
        head.head.height + 1,
        "finalized blocks arrive in height order"
    );
    let built =
        match executed.take(&header.hash()) {
            Some(b) => b,
            None => Arc::new(chain.replay(&head.state, &block.block).unwrap_or_else(|e| {
                panic!("finalized block {} does not execute: {e}", header.height)
            })),
        };
    chain.commit(&built);
    executed.prune(header.height);
}

//! Transaction gossip: a transaction a client submits to any validator reaches every other
//! validator, and so the leaders that will include it, in one hop.

use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Spawner;
use futures::StreamExt;
use futures::channel::mpsc;
use machina_chain::Chain;
use machina_stf::Transaction;

use machina_primitives::codec::{Encode, Reader, put_len};
use machina_primitives::limits::MAX_TX_BYTES;
use std::sync::Arc;

/// Largest gossip message: batches are cut below this, and a peer's message above it is
/// refused by the network layer.
pub const MAX_GOSSIP_BYTES: usize = 2 * MAX_TX_BYTES;
/// Most transactions in one gossip message.
pub const MAX_GOSSIP_TXS: usize = 4096;
/// Client batches waiting to be gossiped; when full, a batch is not gossiped (the node that
/// admitted it still includes it when it leads).
pub const MAX_QUEUED_BATCHES: usize = 1024;

/// Starts the gossip task: sends what this node's clients submit to all peers, and submits
/// what peers send to the local mempool (never forwarding it again).
pub fn start<E, S, R>(ctx: E, chain: Arc<Chain>, (mut sender, mut receiver): (S, R))
where
    E: Spawner,
    S: Sender,
    R: Receiver,
{
    let (queue, mut outbox) = mpsc::channel::<Vec<Transaction>>(MAX_QUEUED_BATCHES);
    let queue = std::sync::Mutex::new(queue);
    chain.set_relay(Box::new(move |txs| {
        // Full or closed: the batch stays local, which delays it but loses nothing.
        let _ = queue.lock().expect("gossip queue").try_send(txs.to_vec());
    }));
    ctx.child("send").spawn(move |_| async move {
        while let Some(txs) = outbox.next().await {
            for msg in encode_batches(&txs) {
                let _ = sender.send(Recipients::All, msg, false);
            }
        }
    });
    ctx.child("receive").spawn(move |ctx| async move {
        while let Ok((peer, msg)) = receiver.recv().await {
            let mut txs = match decode_batch(msg.as_ref()) {
                Ok(txs) => txs,
                Err(e) => {
                    tracing::debug!(?peer, error = %e, "undecodable gossip");
                    continue;
                }
            };
            // Signature checks are the expensive part: transactions already waiting here or
            // already committed are dropped before them, so repeating a batch costs a peer
            // more than it costs us.
            let state = chain.committed().state;
            txs.retain(|t| {
                !chain.is_pending(&t.hash())
                    && machina_bank::account(&state, &t.body.sender).nonce <= t.body.nonce
            });
            if txs.is_empty() {
                continue;
            }
            let chain = chain.clone();
            let _ = ctx
                .child("admit")
                .shared(true)
                .spawn(move |_| async move { chain.submit(txs) })
                .await;
        }
    });
}

/// Cuts `txs` into messages of at most [`MAX_GOSSIP_BYTES`] and [`MAX_GOSSIP_TXS`].
pub fn encode_batches(txs: &[Transaction]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Vec<Vec<u8>> = Vec::new();
    let mut size = 4;
    let flush = |cur: &mut Vec<Vec<u8>>, out: &mut Vec<Vec<u8>>| {
        if cur.is_empty() {
            return;
        }
        let mut msg = Vec::new();
        put_len(&mut msg, cur.len());
        for t in cur.drain(..) {
            msg.extend_from_slice(&t);
        }
        out.push(msg);
    };
    for tx in txs {
        let bytes = tx.encode();
        if size + bytes.len() > MAX_GOSSIP_BYTES || cur.len() == MAX_GOSSIP_TXS {
            flush(&mut cur, &mut out);
            size = 4;
        }
        size += bytes.len();
        cur.push(bytes);
    }
    flush(&mut cur, &mut out);
    out
}

/// Decodes a gossip message within the limits.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Transaction>, machina_primitives::CodecError> {
    if bytes.len() > MAX_GOSSIP_BYTES {
        return Err(machina_primitives::CodecError::Oversize {
            len: bytes.len(),
            max: MAX_GOSSIP_BYTES,
        });
    }
    let mut r = Reader::new(bytes);
    let txs = r.vec("gossip", MAX_GOSSIP_TXS)?;
    r.finish()?;
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_bank::BankAction;
    use machina_primitives::{Address, Amount, Keypair};
    use machina_stf::TxBody;

    fn tx(nonce: u64, memo: usize) -> Transaction {
        let k = Keypair::dev("alice");
        TxBody {
            chain_id: 1,
            sender: k.address(),
            nonce,
            fee: Amount(1),
            expiry_height: 10,
            fee_payer: None,
            actions: vec![
                BankAction::Transfer {
                    to: Address::default(),
                    amount: Amount(memo as u128),
                }
                .into(),
            ],
        }
        .sign(&[&k])
    }

    #[test]
    fn batches_round_trip_within_the_limits() {
        let txs: Vec<Transaction> = (0..10_000).map(|i| tx(i, i as usize)).collect();
        let msgs = encode_batches(&txs);
        assert!(msgs.len() >= 3, "10,000 transactions need several messages");
        let mut back = Vec::new();
        for m in &msgs {
            assert!(m.len() <= MAX_GOSSIP_BYTES);
            back.extend(decode_batch(m).expect("decodes"));
        }
        assert_eq!(back, txs);
    }

    #[test]
    fn garbage_and_truncations_are_refused() {
        let msg = encode_batches(&[tx(0, 1), tx(1, 2)]).remove(0);
        for cut in 0..msg.len() {
            assert!(decode_batch(&msg[..cut]).is_err());
        }
        assert!(decode_batch(&[0xff; 64]).is_err());
    }
}

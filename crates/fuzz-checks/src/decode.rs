//! Decoders of untrusted bytes: each must refuse bad input with an error, never a panic, and
//! whatever it accepts must come back unchanged through encode and decode.

use machina_consensus::gossip::decode_batch;
use machina_consensus::{BlockLimits, ConsensusBlock};
use machina_primitives::limits::{MAX_BLOCK_BYTES, MAX_TX_BYTES};
use machina_primitives::{Decode, Encode};
use machina_stf::{Action, Block, Params, Transaction};

/// Chain id the stateless checks run against (the fuzzer may or may not hit it).
const CHAIN: u64 = 1;

/// The canonical codec round trip: `v` encodes to bytes that decode to `v`, and (there is
/// exactly one encoding of a value) to the very bytes `v` was decoded from.
fn canonical<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T, from: &[u8], max: usize) {
    let bytes = v.encode();
    assert_eq!(
        bytes, from,
        "a decoded value re-encodes to other bytes: {v:?}"
    );
    let back = T::decode_exact(&bytes, max).expect("a re-encoded value decodes");
    assert_eq!(&back, v, "round trip changed the value");
}

/// The JSON form of a value the binary codec accepted: it serialises, and parses back to it.
fn json_round_trip<T>(v: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_vec(v).expect("a decoded value serialises to JSON");
    let back: T = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "the JSON of a decoded value does not parse back ({e}): {}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(&back, v, "JSON round trip changed the value");
}

/// A transaction as a client or peer sends it (`POST /v1/tx`, gossip): decodes within
/// [`MAX_TX_BYTES`] or fails; if it decodes, it is canonical, survives JSON, and the
/// mempool's stateless checks and id run on it without panicking.
pub fn tx_decode(data: &[u8]) {
    let Ok(tx) = Transaction::decode_exact(data, MAX_TX_BYTES) else {
        return;
    };
    canonical(&tx, data, MAX_TX_BYTES);
    json_round_trip(&tx);
    let _ = tx.hash();
    let _ = machina_stf::check_stateless(&tx, &Params::default_for(CHAIN), 1);
    let _ = machina_stf::check_stateless(&tx, &Params::default_for(tx.body.chain_id), 1);
}

/// One action payload of any module (the stf's [`Action`] routes by its tag to the module's
/// own decoder): canonical, survives JSON, and its module's stateless checks do not panic.
pub fn action_decode(data: &[u8]) {
    let Ok(a) = Action::decode_exact(data, MAX_TX_BYTES) else {
        return;
    };
    canonical(&a, data, MAX_TX_BYTES);
    json_round_trip(&a);
    assert!(Action::is_action_name(a.name()));
    let body = machina_stf::TxBody {
        chain_id: CHAIN,
        sender: machina_primitives::Address([7; 20]),
        nonce: 0,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: 10,
        fee_payer: None,
        actions: vec![a],
    };
    let tx = Transaction {
        body,
        signatures: vec![],
    };
    let _ = machina_stf::check_stateless(&tx, &Params::default_for(CHAIN), 1);
}

/// A block: the first byte picks the form. Even: a Machina block as the store and the dev
/// chain read it (within [`MAX_BLOCK_BYTES`]). Odd: a consensus block as a peer broadcasts
/// it (context, parent, Machina block whose header commits to its transactions).
pub fn block_decode(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        if let Ok(b) = Block::decode_exact(rest, MAX_BLOCK_BYTES) {
            canonical(&b, rest, MAX_BLOCK_BYTES);
            let _ = b.header.hash();
        }
        return;
    }
    use commonware_codec::{Decode as _, Encode as _};
    let limits = BlockLimits {
        // Small limits, so that the fuzzer can reach them.
        max_block_bytes: 64 * 1024,
        max_txs: 8,
    };
    if let Ok(cb) = ConsensusBlock::decode_cfg(rest.to_vec(), &limits) {
        let bytes = cb.encode();
        assert_eq!(
            bytes.as_ref(),
            rest,
            "a consensus block re-encodes to other bytes"
        );
        let back = ConsensusBlock::decode_cfg(bytes.to_vec(), &limits)
            .expect("a re-encoded consensus block decodes");
        assert!(
            back == cb,
            "round trip changed the consensus block's digest"
        );
        assert_eq!(back.block, cb.block);
        assert_eq!(back.context, cb.context);
        assert_eq!(back.parent, cb.parent);
    }
}

/// The JSON form of a transaction (`POST /v1/tx` with a JSON body, the CLI's files): parses
/// or fails; if it parses, its JSON round trips. JSON is looser than the codec (it has no
/// length limits), so the node passes what it parsed through the codec (`canonical` in
/// `machina_api`): what the codec then accepts must be the same transaction, canonical, and
/// survive the stateless checks without a panic; what it refuses never reaches the mempool.
pub fn tx_json(data: &[u8]) {
    let Ok(tx) = serde_json::from_slice::<Transaction>(data) else {
        return;
    };
    json_round_trip(&tx);
    let bytes = tx.encode();
    let Ok(back) = Transaction::decode_exact(&bytes, MAX_TX_BYTES) else {
        return;
    };
    assert_eq!(back, tx, "binary round trip of a JSON transaction");
    canonical(&back, &bytes, MAX_TX_BYTES);
    let _ = machina_stf::check_stateless(&back, &Params::default_for(back.body.chain_id), 1);
}

/// What Machina decodes from its consensus peers beyond simplex's own messages: the first
/// byte picks the form. Even: a transaction gossip message. Odd: validator equivocation
/// evidence as it travels in a staking transaction (`ProveValidatorEquivocation`).
pub fn consensus_msg(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        if let Ok(txs) = decode_batch(rest) {
            let msgs = machina_consensus::gossip::encode_batches(&txs);
            let mut back = Vec::new();
            for m in &msgs {
                back.extend(decode_batch(m).expect("a re-encoded gossip message decodes"));
            }
            assert_eq!(back, txs, "gossip round trip");
            if !txs.is_empty() {
                assert_eq!(msgs.len(), 1, "one message re-encodes as one");
                assert_eq!(msgs[0], rest, "a gossip message re-encodes to other bytes");
            }
        }
        return;
    }
    if let Ok(e) = machina_staking::Equivocation::decode(rest) {
        let bytes = e.encode();
        let back = machina_staking::Equivocation::decode(&bytes)
            .unwrap_or_else(|err| panic!("re-encoded evidence does not decode: {err}"));
        assert_eq!(back, e, "evidence round trip");
        // The check against a state without a validator set must refuse it, not panic.
        let state = machina_state::SparseMerkleTree::new();
        assert!(machina_staking::check_equivocation(&state, CHAIN, rest).is_err());
    }
}

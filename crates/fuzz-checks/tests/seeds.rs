//! Writes the seed inputs the fuzz targets start from into `fuzz/seeds/<target>/`:
//! `cargo test -p machina-fuzz-checks --test seeds -- --ignored`. Valid encodings of every
//! action of the golden vectors, transactions, blocks, gossip messages and readings, so that
//! libFuzzer mutates real values instead of searching for a version byte.

use machina_consensus::ConsensusBlock;
use machina_primitives::hash::merkle_root;
use machina_primitives::{Address, Amount, BlockHeader, Encode, Hash, Keypair};
use machina_stf::{Action, Block, Transaction, TxBody};
use std::path::{Path, PathBuf};

fn dir(target: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    std::fs::create_dir_all(&d).expect("seed dir");
    d
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    std::fs::write(dir(target).join(name), bytes).expect("seed file");
}

fn golden() -> Vec<serde_json::Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stf/tests/golden/codec.json");
    serde_json::from_slice(&std::fs::read(p).expect("golden vectors")).expect("json")
}

fn tx(actions: Vec<Action>, nonce: u64) -> Transaction {
    let k = Keypair::dev("alice");
    TxBody {
        chain_id: 1,
        sender: k.address(),
        nonce,
        fee: Amount(1000),
        expiry_height: 100,
        fee_payer: (nonce % 2 == 1).then_some(Address([9; 20])),
        actions,
    }
    .sign(&[&k])
}

#[test]
#[ignore = "writes fuzz/seeds; run by hand"]
fn write_seeds() {
    let mut actions = Vec::new();
    for v in golden() {
        let name = v["name"].as_str().unwrap_or("x").to_owned();
        let bytes = hex::decode(v["hex"].as_str().expect("hex")).expect("hex");
        match v["type"].as_str() {
            Some("Action") => {
                write("action_decode", &name, &bytes);
                let a: Action = machina_primitives::Decode::decode_exact(&bytes, 1 << 20)
                    .expect("golden action decodes");
                actions.push((name, a));
            }
            Some("Transaction") => write("tx_decode", &name, &bytes),
            Some("Block") => write("block_decode", &name, &[&[0u8][..], &bytes].concat()),
            _ => {}
        }
    }
    let mut txs = Vec::new();
    for (i, (name, a)) in actions.iter().enumerate() {
        let t = tx(vec![a.clone()], i as u64);
        write("tx_decode", name, &t.encode());
        write("tx_json", name, &serde_json::to_vec(&t).expect("json"));
        txs.push(t);
    }
    // Blocks: empty and with a few transactions, plain and as consensus carries them.
    for n in [0usize, 1, 3] {
        let body: Vec<Transaction> = txs.iter().take(n).cloned().collect();
        let ids: Vec<Hash> = body.iter().map(|t| t.hash()).collect();
        let header = BlockHeader {
            chain_id: 1,
            height: n as u64 + 1,
            parent_hash: Hash([1; 32]),
            timestamp_ms: 1000,
            proposer: Address([2; 20]),
            tx_root: merkle_root(&ids),
            receipts_root: Hash([3; 32]),
            state_root: Hash([4; 32]),
        };
        let block = Block {
            header: header.clone(),
            txs: body,
        };
        write(
            "block_decode",
            &format!("block-{n}"),
            &[&[0u8][..], &block.encode()].concat(),
        );
        let genesis = ConsensusBlock::genesis(header);
        let cb = ConsensusBlock::new(genesis.context.clone(), genesis.parent, block);
        use commonware_codec::Encode as _;
        write(
            "block_decode",
            &format!("consensus-block-{n}"),
            &[&[1u8][..], cb.encode().as_ref()].concat(),
        );
    }
    // Gossip: one message of a few transactions.
    for n in [1usize, 4] {
        let batch: Vec<Transaction> = txs.iter().take(n).cloned().collect();
        let msg = machina_consensus::gossip::encode_batches(&batch).remove(0);
        write(
            "consensus_msg",
            &format!("gossip-{n}"),
            &[&[0u8][..], &msg].concat(),
        );
    }
    write("consensus_msg", "evidence-empty", &[1u8, 0]);
    // Readings: one, and an array, as devices post them.
    let d = Keypair::dev("meter-1");
    let readings: Vec<machina_oracle::SignedReading> = (1..4)
        .map(|seq| {
            machina_oracle::MeterReading {
                machine_id: 1,
                channel: 0,
                seq,
                timestamp_ms: 1_000 * seq,
                import_wh: 10 * seq,
                export_wh: 20 * seq,
            }
            .sign(1, &d)
        })
        .collect();
    write(
        "gateway_readings",
        "one",
        &serde_json::to_vec(&readings[0]).expect("json"),
    );
    write(
        "gateway_readings",
        "array",
        &serde_json::to_vec(&readings).expect("json"),
    );
    // The stf: a few byte strings (any bytes are a sequence).
    for (i, len) in [16usize, 64, 256, 1024].iter().enumerate() {
        let bytes: Vec<u8> = (0..*len).map(|j| (j * 37 + i * 11) as u8).collect();
        write("stf_sequence", &format!("seq-{len}"), &bytes);
    }
}

//! Admission checks the cheap things first: a transaction whose fee nobody can pay is refused
//! for that before any of its signatures is verified, so an unfunded signer cannot make the
//! node verify a batch of thousands of readings for nothing.

use machina_chain::Chain;
use machina_oracle::{MeterReading, OracleAction};
use machina_primitives::limits::MAX_READINGS_PER_TX;
use machina_primitives::{Amount, Keypair, Signature, DEV_CHAIN_ID};
use machina_stf::{Action, Genesis, Transaction, TxBody};

fn chain(dir: &std::path::Path) -> Chain {
    Chain::open(dir, &Genesis::dev(DEV_CHAIN_ID, 0, Vec::new())).expect("open a dev chain")
}

/// A transaction from `from` carrying `actions`, its own signature broken.
fn badly_signed(from: &Keypair, actions: Vec<Action>) -> Transaction {
    let mut tx = TxBody {
        chain_id: DEV_CHAIN_ID,
        sender: from.address(),
        nonce: 0,
        fee: Amount(1_000),
        expiry_height: 100,
        fee_payer: None,
        actions,
    }
    .sign(&[from]);
    tx.signatures[0].signature = Signature([7; 64]);
    tx
}

fn code(chain: &Chain, tx: Transaction) -> &'static str {
    match chain.submit(vec![tx]).remove(0) {
        Ok(_) => "admitted",
        Err(e) => e.code(),
    }
}

fn transfer() -> Action {
    machina_bank::BankAction::Transfer {
        to: Keypair::dev("bob").address(),
        amount: Amount(1),
    }
    .into()
}

#[test]
fn an_unfunded_sender_is_refused_for_the_fee_before_any_signature_is_checked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let chain = chain(tmp.path());
    let nobody = Keypair::dev("nobody-funded-this");
    // Were the signature checked first, this would be `bad_signature`.
    assert_eq!(
        code(&chain, badly_signed(&nobody, vec![transfer()])),
        "insufficient_funds"
    );

    // A full batch of readings with bad device signatures: refused the same way.
    let device = Keypair::dev("some-device");
    let readings = (0..MAX_READINGS_PER_TX as u64)
        .map(|seq| {
            let mut r = MeterReading {
                machine_id: 1,
                channel: 0,
                seq,
                timestamp_ms: 1_000 + seq,
                import_wh: 0,
                export_wh: seq,
            }
            .sign(DEV_CHAIN_ID, &device);
            r.signature = Signature([9; 64]);
            r
        })
        .collect();
    let batch = OracleAction::SubmitReadings { readings };
    assert_eq!(
        code(&chain, badly_signed(&nobody, vec![batch.into()])),
        "insufficient_funds"
    );

    // A funded sender's broken signature is still found.
    let alice = Keypair::dev("alice");
    assert_eq!(
        code(&chain, badly_signed(&alice, vec![transfer()])),
        "bad_signature"
    );
}

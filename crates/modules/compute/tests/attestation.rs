//! Audited attributes: a registered auditor attests an offer's hardware and region; a job that
//! asks for attested offers matches only those, and a change of hardware or region drops the
//! attestation.

mod common;
use common::*;
use machina_compute::{offer_attributes, ComputeAction, ComputeParams, JobStatus};
use machina_stf::Genesis;
use machina_testkit::{key, Chain};

fn chain_with_auditor() -> Chain {
    let mut g = Genesis::dev(CHAIN, 1_000, Vec::new());
    g.modules.compute = ComputeParams {
        auditors: vec![key("dave").address()],
        ..ComputeParams::default()
    };
    Chain::from_genesis(&g, 1_000)
}

fn attest(offer_id: u64, t: &machina_compute::OfferTerms) -> machina_stf::Action {
    ComputeAction::Attest {
        offer_id,
        attributes: offer_attributes(t),
    }
    .into()
}

fn attested_job() -> machina_stf::Action {
    let mut s = spec(100, 10, 1, "");
    s.attested = true;
    job(s, 10_000)
}

#[test]
fn an_attested_job_waits_for_an_attested_offer_and_takes_it_over_a_cheaper_unaudited_one() {
    let mut c = chain_with_auditor();
    let m = machines(&mut c, 2, 2);
    let (bob, dave) = (key("bob"), key("dave"));
    let (cheap, audited) = (terms(5, 1, "us"), terms(50, 1, "eu"));
    c.ok(&bob, vec![offer(m[0], cheap.clone())]);
    c.ok(&bob, vec![offer(m[1], audited.clone())]);
    let t = tenant();
    fund(&mut c, &t);
    let id = job_id(&c.ok(&t, vec![attested_job()]));
    let j = machina_compute::job(&c.state, id).expect("job");
    assert_eq!(j.status, JobStatus::Waiting, "no offer is attested yet");

    // Only a registered auditor's word counts, and only for the terms it saw.
    assert_eq!(c.code(&bob, vec![attest(2, &audited)]), "not_auditor");
    assert_eq!(c.code(&dave, vec![attest(2, &cheap)]), "attributes_changed");
    let r = c.ok(&dave, vec![attest(2, &audited)]);
    assert!(r.events.iter().any(|e| e.kind == "offer_attested"));
    c.tick(2_000);
    let j = machina_compute::job(&c.state, id).expect("job");
    assert_eq!(j.status, JobStatus::Leased);
    assert_eq!(
        j.leases[0].offer_id, 2,
        "the attested offer, not the cheaper one"
    );

    // A job without the requirement still takes the cheapest.
    let open = job_id(&c.ok(&t, vec![job(spec(100, 10, 1, ""), 10_000)]));
    let j = machina_compute::job(&c.state, open).expect("job");
    assert_eq!(j.leases[0].offer_id, 1);
}

#[test]
fn a_hardware_change_drops_the_attestation_and_a_price_change_keeps_it() {
    let mut c = chain_with_auditor();
    let m = machines(&mut c, 1, 1);
    let (bob, dave) = (key("bob"), key("dave"));
    let t0 = terms(50, 2, "eu");
    c.ok(&bob, vec![offer(m[0], t0.clone())]);
    c.ok(&dave, vec![attest(1, &t0)]);
    let update = |t: &machina_compute::OfferTerms| -> machina_stf::Action {
        ComputeAction::UpdateOffer {
            offer_id: 1,
            terms: t.clone(),
        }
        .into()
    };
    let mut pricier = t0.clone();
    pricier.price_per_block = machina_primitives::Amount(60);
    pricier.capacity = 3;
    c.ok(&bob, vec![update(&pricier)]);
    let o = machina_compute::offer(&c.state, 1).expect("offer");
    assert_eq!(
        o.attestation.map(|a| a.auditor),
        Some(dave.address()),
        "price and capacity are the provider's to change"
    );

    let mut bigger = pricier.clone();
    bigger.resources.gpus = 8;
    let r = c.ok(&bob, vec![update(&bigger)]);
    assert!(r.events.iter().any(|e| e.kind == "attestation_dropped"));
    assert!(machina_compute::offer(&c.state, 1)
        .expect("offer")
        .attestation
        .is_none());
    let t = tenant();
    fund(&mut c, &t);
    let id = job_id(&c.ok(&t, vec![attested_job()]));
    assert_eq!(
        machina_compute::job(&c.state, id).expect("job").status,
        JobStatus::Waiting
    );

    // Attested again, then revoked by an auditor.
    c.ok(&dave, vec![attest(1, &bigger)]);
    let revoke: machina_stf::Action = ComputeAction::RevokeAttestation { offer_id: 1 }.into();
    c.ok(&dave, vec![revoke.clone()]);
    assert_eq!(c.code(&dave, vec![revoke]), "not_attested");
}

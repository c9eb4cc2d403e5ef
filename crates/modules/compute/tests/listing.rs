//! The offer and job listings on a chain: newest first, filtered, paged with a cursor that
//! visits every record once.

mod common;
use common::*;
use machina_compute::listing::{jobs_page, offers_page, Cursor, OfferFilter, MAX_LIST_PAGE};
use machina_compute::{ComputeAction, JobStatus};
use machina_testkit::{key, Chain};

fn page(before: Option<u64>, limit: u64) -> Cursor {
    Cursor {
        before,
        limit: Some(limit),
    }
}

/// Six offers on two machines: 1, 3 and 5 of h100, 2, 4 and 6 of a100; 3 is withdrawn.
fn market() -> Chain {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 2, 2);
    let bob = key("bob");
    for i in 0..6u64 {
        let mut t = terms(10 + u128::from(i), 1, "eu");
        if i % 2 == 1 {
            t.resources.gpu_model = "a100".into();
        }
        c.ok(&bob, vec![offer(m[(i % 2) as usize], t)]);
    }
    c.ok(
        &bob,
        vec![ComputeAction::WithdrawOffer { offer_id: 3 }.into()],
    );
    c
}

fn offer_ids(p: &machina_compute::listing::OffersPage) -> Vec<u64> {
    p.offers.iter().map(|o| o.offer_id).collect()
}

#[test]
fn offers_are_listed_newest_first_and_a_cursor_visits_each_once() {
    let c = market();
    let first = offers_page(&c.state, page(None, 4), &OfferFilter::default());
    assert_eq!(first.count, 6);
    assert_eq!(offer_ids(&first), vec![6, 5, 4, 3]);
    assert_eq!(first.next, Some(3));
    let second = offers_page(&c.state, page(first.next, 4), &OfferFilter::default());
    assert_eq!(offer_ids(&second), vec![2, 1]);
    assert_eq!(second.next, None, "id 1 was read: nothing is left");
}

#[test]
fn offers_filter_by_gpu_model_and_open_status() {
    let c = market();
    let h100 = OfferFilter {
        gpu_model: Some("h100".into()),
        ..OfferFilter::default()
    };
    let p = offers_page(&c.state, Cursor::default(), &h100);
    assert_eq!(offer_ids(&p), vec![5, 3, 1]);
    let open_h100 = OfferFilter {
        open: Some(true),
        ..h100.clone()
    };
    assert_eq!(
        offer_ids(&offers_page(&c.state, Cursor::default(), &open_h100)),
        vec![5, 1]
    );
    let withdrawn = OfferFilter {
        open: Some(false),
        ..OfferFilter::default()
    };
    assert_eq!(
        offer_ids(&offers_page(&c.state, Cursor::default(), &withdrawn)),
        vec![3]
    );
    let none = OfferFilter {
        gpu_model: Some("tpu".into()),
        ..OfferFilter::default()
    };
    let p = offers_page(&c.state, Cursor::default(), &none);
    assert!(p.offers.is_empty());
    assert_eq!(p.next, None);
    // Offers 2, 4 and 6 are on the second machine.
    let second = machina_compute::offer(&c.state, 2)
        .expect("offer")
        .machine_id;
    let of_machine = OfferFilter {
        machine_id: Some(second),
        ..OfferFilter::default()
    };
    assert_eq!(
        offer_ids(&offers_page(&c.state, Cursor::default(), &of_machine)),
        vec![6, 4, 2]
    );
}

#[test]
fn an_empty_market_lists_nothing_without_a_cursor() {
    let c = Chain::new(CHAIN, 1_000);
    let p = offers_page(&c.state, Cursor::default(), &OfferFilter::default());
    assert_eq!((p.count, p.offers.len(), p.next), (0, 0, None));
    let j = jobs_page(&c.state, Cursor::default(), None);
    assert_eq!((j.count, j.jobs.len(), j.next), (0, 0, None));
}

#[test]
fn jobs_are_listed_newest_first_and_filter_by_status() {
    let mut c = market();
    let t = tenant();
    fund(&mut c, &t);
    // Job 1 is leased on the cheapest h100 offer; job 2 asks for more than anyone sells.
    let leased = job_id(&c.ok(&t, vec![job(spec(100, 10, 1, "eu"), 10_000)]));
    let mut big = spec(100, 10, 1, "eu");
    big.requirements.gpus = 64;
    let waiting = job_id(&c.ok(&t, vec![job(big, 10_000)]));
    let all = jobs_page(&c.state, Cursor::default(), None);
    assert_eq!(all.count, 2);
    let ids: Vec<u64> = all.jobs.iter().map(|j| j.job_id).collect();
    assert_eq!(ids, vec![waiting, leased]);
    let only = |s| {
        jobs_page(&c.state, Cursor::default(), Some(s))
            .jobs
            .iter()
            .map(|j| j.job_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(only(JobStatus::Leased), vec![leased]);
    assert_eq!(only(JobStatus::Waiting), vec![waiting]);
    assert!(only(JobStatus::Closed).is_empty());
}

#[test]
fn a_page_holds_at_most_the_page_bound() {
    let c = market();
    let p = offers_page(
        &c.state,
        page(None, 10 * MAX_LIST_PAGE),
        &OfferFilter::default(),
    );
    assert_eq!(p.offers.len(), 6);
    let p = offers_page(&c.state, page(None, 0), &OfferFilter::default());
    assert!(p.offers.is_empty());
    assert_eq!(
        p.next,
        Some(7),
        "an empty page starts the next one where it was"
    );
}

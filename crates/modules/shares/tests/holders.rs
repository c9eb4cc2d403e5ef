//! The holders listing on a chain: every position of a class, exact after issues, transfers,
//! an offering's sales and claims, in address order, paged with a cursor that visits each
//! position once.

mod common;
use common::*;
use machina_module_api::{ApiError, Listed, ReadHost, View};
use machina_primitives::{Address, Amount};
use machina_shares::holders::{holders, positions_prefix, HolderRow, MAX_HOLDERS_PAGE};
use machina_shares::SharesAction;
use machina_state::SparseMerkleTree;
use machina_testkit::{key, Chain};

/// A host that lists keys by reading every entry of the state: slow, obviously right.
#[derive(Clone)]
struct Host(SparseMerkleTree, u64);

impl ReadHost for Host {
    type State = SparseMerkleTree;

    fn view(&self) -> View<SparseMerkleTree> {
        View {
            state: self.0.clone(),
            height: self.1,
            timestamp_ms: 0,
        }
    }

    fn view_with_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Listed<SparseMerkleTree>, ApiError> {
        let mut keys: Vec<Vec<u8>> = self
            .0
            .entries()
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with(prefix) && after.is_none_or(|a| k.as_slice() > a))
            .collect();
        keys.sort();
        keys.truncate(limit);
        Ok(Listed {
            view: self.view(),
            keys,
        })
    }
}

fn host(c: &Chain) -> Host {
    Host(c.state.clone(), c.height)
}

/// Every page from the start, following `next`.
fn all_pages(c: &Chain, m: u64, limit: usize) -> (Vec<HolderRow>, usize) {
    let (mut rows, mut pages, mut after) = (Vec::new(), 0, None);
    loop {
        let p = holders(&host(c), m, after, Some(limit)).expect("page");
        assert!(p.holders.len() <= limit);
        rows.extend(p.holders);
        pages += 1;
        match p.next {
            Some(a) => after = Some(a),
            None => return (rows, pages),
        }
    }
}

/// What the listing must say: each named account's position, in address order, if it has one.
fn expected(c: &Chain, m: u64, who: &[Address]) -> Vec<HolderRow> {
    let mut rows: Vec<HolderRow> = who
        .iter()
        .filter_map(|a| {
            let p = machina_shares::position(&c.state, m, a);
            (p.balance > 0 || p.accrued > 0).then(|| HolderRow {
                holder: *a,
                balance: p.balance,
                claimable: machina_shares::claimable(&c.state, m, a),
                since_seq: p.since_seq,
            })
        })
        .collect();
    rows.sort_by_key(|r| r.holder);
    rows
}

#[test]
fn a_machine_without_shares_has_no_holders_page() {
    let mut c = chain(1_000_000);
    let m = machine(&mut c, &key("bob"), "battery");
    let e = holders(&host(&c), m, None, None).expect_err("no shares");
    assert_eq!(e.code(), "not_found");
}

#[test]
fn holders_follow_issue_transfers_sales_and_claims_exactly() {
    let mut c = chain(10_000_000_000);
    let bob = key("bob");
    let m = machine(&mut c, &bob, "battery");
    let other = machine(&mut c, &bob, "battery-2");
    c.ok(&bob, vec![issue(m, 1_000, 1_000, false)]);
    c.ok(&bob, vec![issue(other, 10, 0, false)]);
    let names = ["alice", "charlie", "dave", "erin", "frank"];
    for (i, n) in names.iter().enumerate() {
        c.ok(&bob, vec![send(m, &key(n), 10 * (i as u64 + 1))]);
    }
    c.ok(
        &key("alice"),
        vec![machina_bank::BankAction::Transfer {
            to: key("grace").address(),
            amount: Amount(1_000_000),
        }
        .into()],
    );
    // An offering: the sale moves bob's shares to a buyer the events name, not the seller.
    c.ok(
        &bob,
        vec![SharesAction::OfferShares {
            machine_id: m,
            amount: 50,
            price_per_share: Amount(3),
        }
        .into()],
    );
    c.ok(
        &key("grace"),
        vec![SharesAction::BuyShares {
            machine_id: m,
            amount: 50,
            max_price_per_share: Amount(3),
        }
        .into()],
    );
    revenue(&mut c, m, 1_000_000);
    // Charlie sells all: his position stays for its revenue until he claims it.
    c.ok(&key("charlie"), vec![send(m, &key("alice"), 20)]);
    let mut who: Vec<Address> = names.iter().map(|n| key(n).address()).collect();
    who.extend([bob.address(), key("grace").address()]);
    let (rows, _) = all_pages(&c, m, MAX_HOLDERS_PAGE);
    assert_eq!(rows, expected(&c, m, &who));
    let charlie = rows
        .iter()
        .find(|r| r.holder == key("charlie").address())
        .expect("charlie is listed while he has revenue to claim");
    assert_eq!(charlie.balance, 0);
    assert!(charlie.claimable > Amount::ZERO);
    let p = holders(&host(&c), m, None, None).expect("page");
    assert_eq!(
        p.count as usize,
        rows.iter().filter(|r| r.balance > 0).count()
    );
    assert_eq!(p.supply, 1_000);
    assert_eq!(rows.iter().map(|r| r.balance).sum::<u64>(), 1_000);
    c.ok(&key("charlie"), vec![claim(Some(m))]);
    let (rows, _) = all_pages(&c, m, MAX_HOLDERS_PAGE);
    assert!(rows.iter().all(|r| r.holder != key("charlie").address()));
    assert_eq!(rows, expected(&c, m, &who));
    // The other machine's single holder is not listed here, nor ours there.
    let (theirs, _) = all_pages(&c, other, MAX_HOLDERS_PAGE);
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].holder, bob.address());
}

#[test]
fn pages_visit_every_position_once_and_the_limit_is_capped() {
    let mut c = chain(1_000_000);
    let bob = key("bob");
    let m = machine(&mut c, &bob, "battery");
    c.ok(&bob, vec![issue(m, 1_000_000, 0, false)]);
    let n = MAX_HOLDERS_PAGE + 7;
    let who: Vec<Address> = (0..n)
        .map(|i| key(&format!("holder-{i}")).address())
        .collect();
    for chunk in who.chunks(16) {
        let actions = chunk
            .iter()
            .map(|a| {
                SharesAction::TransferShares {
                    machine_id: m,
                    to: *a,
                    amount: 1,
                }
                .into()
            })
            .collect();
        c.ok(&bob, actions);
    }
    let mut everyone = who.clone();
    everyone.push(bob.address());
    let (rows, pages) = all_pages(&c, m, 10);
    assert_eq!(rows, expected(&c, m, &everyone));
    assert_eq!(pages, (n + 1).div_ceil(10));
    let p = holders(&host(&c), m, None, Some(10 * MAX_HOLDERS_PAGE)).expect("page");
    assert_eq!(p.holders.len(), MAX_HOLDERS_PAGE);
    assert!(p.next.is_some());
    // Each listed key is the machine's prefix and an address.
    let prefix = positions_prefix(m);
    let keys = c
        .state
        .entries()
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .count();
    assert_eq!(keys, n + 1);
}

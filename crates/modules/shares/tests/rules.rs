//! Issuing, the transfer rules, forced transfers, the primary offering and what is and is not
//! revenue: each refusal with its code.

mod common;
use common::*;
use machina_primitives::{Address, Amount};
use machina_shares::{pool_address, RulesChange, SharesAction};
use machina_testkit::{key, Chain};

fn rules(machine_id: u64, change: RulesChange) -> machina_stf::Action {
    SharesAction::SetShareRules { machine_id, change }.into()
}

/// bob's battery with 1,000 shares (fee 10 %); alice holds 100 of them.
fn setup(forced: bool) -> (Chain, u64) {
    let mut c = chain(10_000_000_000);
    let m = machine(&mut c, &key("bob"), "battery");
    c.ok(&key("bob"), vec![issue(m, 1_000, 1_000, forced)]);
    c.ok(&key("bob"), vec![send(m, &key("alice"), 100)]);
    (c, m)
}

#[test]
fn a_class_is_issued_once_by_the_machines_owner() {
    let mut c = chain(1_000_000);
    let m = machine(&mut c, &key("bob"), "battery");
    assert_eq!(
        c.code(&key("alice"), vec![issue(m, 10, 0, false)]),
        "not_owner"
    );
    assert_eq!(
        c.code(&key("bob"), vec![issue(m, 0, 0, false)]),
        "invalid_supply"
    );
    assert_eq!(
        c.code(&key("bob"), vec![issue(m, 10, 10_001, false)]),
        "invalid_operator_fee"
    );
    assert_eq!(
        c.code(&key("bob"), vec![issue(999, 10, 0, false)]),
        "unknown_machine"
    );
    c.ok(&key("bob"), vec![issue(m, 10, 0, false)]);
    assert_eq!(
        balance(&c, m, &key("bob")),
        10,
        "the owner holds them all at first"
    );
    assert_eq!(
        c.code(&key("bob"), vec![issue(m, 10, 0, false)]),
        "shares_already_issued"
    );
}

#[test]
fn transfers_check_balance_and_self() {
    let (mut c, m) = setup(false);
    assert_eq!(
        c.code(&key("alice"), vec![send(m, &key("charlie"), 101)]),
        "insufficient_shares"
    );
    assert_eq!(
        c.code(&key("alice"), vec![send(m, &key("alice"), 1)]),
        "shares_to_self"
    );
    assert_eq!(
        c.code(&key("alice"), vec![send(m, &key("charlie"), 0)]),
        "zero_shares"
    );
    c.ok(&key("alice"), vec![send(m, &key("charlie"), 40)]);
    assert_eq!(balance(&c, m, &key("charlie")), 40);
}

#[test]
fn the_allowlist_refuses_unlisted_receivers() {
    let (mut c, m) = setup(false);
    let on = RulesChange {
        allowlist: Some(true),
        allow: vec![key("charlie").address()],
        ..Default::default()
    };
    assert_eq!(
        c.code(&key("alice"), vec![rules(m, on.clone())]),
        "not_owner"
    );
    c.ok(&key("bob"), vec![rules(m, on)]);
    assert_eq!(
        c.code(&key("alice"), vec![send(m, &key("dave"), 1)]),
        "holder_not_allowlisted"
    );
    c.ok(&key("alice"), vec![send(m, &key("charlie"), 1)]);
    c.ok(&key("alice"), vec![send(m, &key("bob"), 1)]); // the owner always may receive
    let off = RulesChange {
        disallow: vec![key("charlie").address()],
        ..Default::default()
    };
    c.ok(&key("bob"), vec![rules(m, off)]);
    assert_eq!(
        c.code(&key("alice"), vec![send(m, &key("charlie"), 1)]),
        "holder_not_allowlisted"
    );
}

#[test]
fn a_lockup_holds_everyone_but_the_owner_until_its_height() {
    let (mut c, m) = setup(false);
    let until = c.height + 5;
    let change = RulesChange {
        lockup_until: Some(until),
        ..Default::default()
    };
    c.ok(&key("bob"), vec![rules(m, change)]);
    assert_eq!(
        c.code(&key("alice"), vec![send(m, &key("charlie"), 1)]),
        "locked_up"
    );
    c.ok(&key("bob"), vec![send(m, &key("charlie"), 1)]);
    while c.height + 1 < until {
        c.tick(c.now + 1_000);
    }
    c.ok(&key("alice"), vec![send(m, &key("charlie"), 1)]);
}

#[test]
fn the_holder_limit_refuses_a_new_holder_but_not_an_existing_one() {
    let (mut c, m) = setup(false);
    let change = RulesChange {
        max_holders: Some(2),
        ..Default::default()
    };
    c.ok(&key("bob"), vec![rules(m, change)]);
    assert_eq!(
        c.code(&key("alice"), vec![send(m, &key("charlie"), 1)]),
        "too_many_holders"
    );
    c.ok(&key("alice"), vec![send(m, &key("bob"), 1)]);
    // Moving a whole position replaces a holder: the count stays at 2.
    c.ok(&key("alice"), vec![send(m, &key("charlie"), 99)]);
    assert_eq!(
        machina_shares::class(&c.state, m).expect("class").holders,
        2
    );
}

#[test]
fn a_forced_transfer_needs_the_power_at_issue_and_is_an_event() {
    let (mut c, m) = setup(false);
    let force = |m| -> machina_stf::Action {
        SharesAction::ForceTransfer {
            machine_id: m,
            from: key("alice").address(),
            to: key("charlie").address(),
            amount: 100,
        }
        .into()
    };
    assert_eq!(
        c.code(&key("bob"), vec![force(m)]),
        "forced_transfer_disabled"
    );
    let (mut c, m) = setup(true);
    assert_eq!(c.code(&key("charlie"), vec![force(m)]), "not_owner");
    let lock = RulesChange {
        lockup_until: Some(u64::MAX),
        allowlist: Some(true),
        ..Default::default()
    };
    c.ok(&key("bob"), vec![rules(m, lock)]);
    let r = c.ok(&key("bob"), vec![force(m)]);
    let e = r
        .events
        .iter()
        .find(|e| e.kind == "forced_transfer")
        .expect("an event");
    assert_eq!(
        e.attrs["from"].to_string(),
        key("alice").address().to_string()
    );
    assert_eq!(balance(&c, m, &key("alice")), 0);
    assert_eq!(balance(&c, m, &key("charlie")), 100);
}

#[test]
fn the_fee_may_be_lowered_but_never_raised_above_its_issue() {
    let (mut c, m) = setup(false);
    let fee = |bps| RulesChange {
        operator_fee_bps: Some(bps),
        ..Default::default()
    };
    assert_eq!(
        c.code(&key("bob"), vec![rules(m, fee(1_001))]),
        "operator_fee_raised"
    );
    c.ok(&key("bob"), vec![rules(m, fee(500))]);
    revenue(&mut c, m, 10_000);
    let class = machina_shares::class(&c.state, m).expect("class");
    assert_eq!(class.fees_total, Amount(500), "5 % of 10,000");
}

#[test]
fn an_offering_swaps_payment_and_shares_atomically() {
    let (mut c, m) = setup(false);
    let offer = |amount, price| -> machina_stf::Action {
        SharesAction::OfferShares {
            machine_id: m,
            amount,
            price_per_share: Amount(price),
        }
        .into()
    };
    let buy = |amount, max| -> machina_stf::Action {
        SharesAction::BuyShares {
            machine_id: m,
            amount,
            max_price_per_share: Amount(max),
        }
        .into()
    };
    assert_eq!(c.code(&key("charlie"), vec![buy(1, 10)]), "no_offering");
    assert_eq!(
        c.code(&key("bob"), vec![offer(901, 10)]),
        "insufficient_shares"
    );
    c.ok(&key("bob"), vec![offer(300, 2_000)]);
    // Offered shares are reserved: the owner cannot send them elsewhere meanwhile.
    assert_eq!(
        c.code(&key("bob"), vec![send(m, &key("dave"), 601)]),
        "insufficient_shares"
    );
    assert_eq!(
        c.code(&key("charlie"), vec![buy(301, 2_000)]),
        "offering_short"
    );
    assert_eq!(
        c.code(&key("charlie"), vec![buy(10, 1_999)]),
        "price_changed"
    );
    let (bob0, charlie0) = (
        c.balance(&key("bob").address()),
        c.balance(&key("charlie").address()),
    );
    c.ok(&key("charlie"), vec![buy(100, 2_000)]);
    assert_eq!(balance(&c, m, &key("charlie")), 100);
    assert_eq!(
        c.balance(&key("bob").address()),
        bob0 + 200_000,
        "the seller is paid"
    );
    assert!(c.balance(&key("charlie").address()) < charlie0 - 200_000 + 1);
    // A buyer who cannot pay gets no shares.
    let poor = key("poor");
    c.ok(
        &key("alice"),
        vec![machina_bank::BankAction::Transfer {
            to: poor.address(),
            amount: Amount(50_000),
        }
        .into()],
    );
    assert_eq!(c.code(&poor, vec![buy(100, 2_000)]), "insufficient_funds");
    assert_eq!(balance(&c, m, &poor), 0);
    let left = machina_shares::class(&c.state, m)
        .expect("class")
        .offering
        .expect("open");
    assert_eq!(left.remaining, 200);
}

#[test]
fn revenue_without_shares_pays_the_machine_and_transfers_are_not_revenue() {
    let mut c = chain(1_000_000);
    let m = machine(&mut c, &key("bob"), "battery");
    let account = machina_identity::machine_address(m);
    assert!(
        revenue(&mut c, m, 7_000).is_none(),
        "no shares: no revenue event"
    );
    assert_eq!(c.balance(&account), 7_000);
    c.ok(&key("bob"), vec![issue(m, 4, 0, false)]);
    c.ok(
        &key("alice"),
        vec![machina_bank::BankAction::Transfer {
            to: account,
            amount: Amount(5_000),
        }
        .into()],
    );
    let book = machina_shares::revenue(&c.state, m, 0).expect("the first event is recorded");
    assert_eq!(book.amount, Amount(7_000));
    assert!(
        machina_shares::revenue(&c.state, m, 1).is_none(),
        "a transfer is not revenue"
    );
    assert_eq!(claimable(&c, m, &key("bob")), 0);
}

#[test]
fn a_claim_of_all_holdings_pays_each_machine_and_the_pool_empties() {
    let mut c = chain(10_000_000);
    let ms: Vec<u64> = (0..3)
        .map(|i| machine(&mut c, &key("bob"), &format!("pv-{i}")))
        .collect();
    for m in &ms {
        c.ok(&key("bob"), vec![issue(*m, 3, 0, false)]);
        c.ok(&key("bob"), vec![send(*m, &key("alice"), 1)]);
        revenue(&mut c, *m, 1_000);
    }
    let r = c.ok(&key("alice"), vec![claim(None)]);
    let paid: u128 = r
        .events
        .iter()
        .filter(|e| e.kind == "claimed")
        .map(|e| e.attrs["amount"].parse::<u128>().expect("amount"))
        .sum();
    assert_eq!(paid, 3 * 333, "a third of 1,000 of each, rounded down");
    c.ok(&key("bob"), vec![claim(None)]);
    // What is left in the pool is the carried dust (1 micro of each event), named and owed.
    assert_eq!(c.balance(&pool_address()), 3);
    assert_eq!(c.code(&key("alice"), vec![claim(None)]), "nothing_to_claim");
    assert_ne!(pool_address(), Address([0; 20]));
}

#[test]
fn a_frozen_machine_wallet_does_not_hold_back_what_holders_earned() {
    let (mut c, m) = setup(false);
    let freeze = machina_wallet::WalletAction::SetWalletFrozen {
        machine_id: m,
        frozen: true,
    };
    c.ok(&key("bob"), vec![freeze.into()]);
    revenue(&mut c, m, 100_000);
    // 10 % fee to bob; alice holds 100 of 1,000 shares: 9,000 of the 90,000.
    assert_eq!(claimable(&c, m, &key("alice")), 9_000);
    let before = c.balance(&key("alice").address());
    c.ok(&key("alice"), vec![claim(Some(m))]);
    assert_eq!(
        c.balance(&key("alice").address()),
        before + 9_000 - machina_testkit::FEE
    );
}

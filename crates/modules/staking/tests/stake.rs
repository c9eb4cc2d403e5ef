//! Staking's rules on an in-memory chain: bonds lock at once, unbonding returns by itself
//! after the role's delay, every micro-unit is accounted for.

use machina_primitives::{Amount, Keypair};
use machina_staking::{
    bonded, escrow_address, pending_unbondings, total, StakingAction, StakingParams, Subject,
    MAX_UNBONDINGS_PER_ACCOUNT,
};
use machina_stf::Action;
use machina_testkit::{key, Chain};

const CHAIN: u64 = 21;

fn validator() -> Subject {
    Subject::Validator {
        key: Keypair::dev("validator-0").public(),
    }
}

/// Alice's reporting for feed `f`.
fn reporter_f() -> Subject {
    Subject::Reporter {
        feed: "f".into(),
        reporter: key("alice").address(),
    }
}

fn bond(subject: Subject, amount: u128) -> Action {
    StakingAction::Bond {
        subject,
        amount: Amount(amount),
    }
    .into()
}

fn unbond(subject: Subject, amount: u128) -> Action {
    StakingAction::Unbond {
        subject,
        amount: Amount(amount),
    }
    .into()
}

#[test]
fn a_bond_locks_at_once_and_is_queryable_per_subject_and_bonder() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, bob) = (key("alice"), key("bob"));
    let before = c.balance(&alice.address());
    let min = StakingParams::default().min_validator_bond.0;
    c.ok(&alice, vec![bond(validator(), min)]);
    c.ok(&bob, vec![bond(validator(), min + 5)]);
    assert_eq!(total(&c.state, &validator()), Amount(2 * min + 5));
    assert_eq!(
        bonded(&c.state, &validator(), &alice.address()),
        Amount(min)
    );
    assert_eq!(c.balance(&escrow_address()), 2 * min + 5);
    let fee = machina_stf::params::DEFAULT_MIN_FEE.0;
    assert_eq!(c.balance(&alice.address()), before - min - fee);
}

#[test]
fn bonds_below_the_minimum_and_zero_stake_are_refused() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let alice = key("alice");
    let min = StakingParams::default().min_validator_bond.0;
    assert_eq!(
        c.code(&alice, vec![bond(validator(), min - 1)]),
        "bond_below_minimum"
    );
    // Refused at admission, before any fee.
    assert_eq!(c.code(&alice, vec![bond(validator(), 0)]), "zero_stake");
    let reporter = reporter_f();
    let rmin = StakingParams::default().min_reporter_bond.0;
    c.ok(&alice, vec![bond(reporter.clone(), rmin)]);
    // Unbonding may not leave a part below the minimum either, only zero.
    assert_eq!(
        c.code(&alice, vec![unbond(reporter.clone(), 1)]),
        "bond_below_minimum"
    );
    assert_eq!(
        c.code(&alice, vec![unbond(reporter, rmin + 1)]),
        "not_bonded_enough"
    );
}

#[test]
fn a_provider_bonds_only_for_a_compute_machine_it_owns() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let alice = key("alice");
    let min = StakingParams::default().min_provider_bond.0;
    let machine = Subject::Provider { machine_id: 42 };
    assert_eq!(c.code(&alice, vec![bond(machine, min)]), "unknown_machine");
}

#[test]
fn unbonded_stake_returns_by_itself_after_the_delay_and_not_before() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let alice = key("alice");
    let min = StakingParams::default().min_validator_bond.0;
    c.ok(&alice, vec![bond(validator(), 3 * min)]);
    let r = c.ok(&alice, vec![unbond(validator(), min)]);
    let due = r.events[1].attrs["release_height"]
        .as_u64()
        .expect("release height");
    assert_eq!(
        due,
        c.height + StakingParams::default().validator_unbonding_blocks
    );
    assert_eq!(pending_unbondings(&c.state, &alice.address()), 1);
    let held = c.balance(&alice.address());
    while c.height + 1 < due {
        let now = c.now + 1000;
        assert!(c.tick(now).is_empty());
    }
    assert_eq!(
        c.balance(&alice.address()),
        held,
        "still slashable, not returned"
    );
    let events = c.tick(c.now + 1000);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "released");
    assert_eq!(c.balance(&alice.address()), held + min);
    assert_eq!(pending_unbondings(&c.state, &alice.address()), 0);
    assert_eq!(total(&c.state, &validator()), Amount(2 * min));
}

#[test]
fn pending_unbondings_per_account_are_bounded() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let alice = key("alice");
    let subject = reporter_f();
    let rmin = StakingParams::default().min_reporter_bond.0;
    let n = MAX_UNBONDINGS_PER_ACCOUNT as u128;
    c.ok(&alice, vec![bond(subject.clone(), rmin * (n + 2))]);
    for _ in 0..n {
        c.ok(&alice, vec![unbond(subject.clone(), rmin)]);
    }
    assert_eq!(
        c.code(&alice, vec![unbond(subject, rmin)]),
        "too_many_unbondings"
    );
}

//! Agent wallets through the whole transaction path: frozen wallets, allowlists and
//! cooldowns, session keys, multisig, fee sponsorship and attestations.

use machina_identity::IdentityAction;
use machina_primitives::{Address, Amount, Keypair};
use machina_state::StateRead;
use machina_stf::Action;
use machina_testkit::{key, outcome as code, Chain, FEE};
use machina_wallet::{SpendPolicy, WalletAction};
use proptest::prelude::*;

mod common;
use common::{funded_machine, registration, transfer, Machines, CHAIN};

#[test]
fn a_frozen_wallet_moves_nothing_and_the_owner_can_unfreeze_it() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, device) = (key("alice"), key("d1"));
    let (id, addr) = funded_machine(&mut c, &device, 1_000_000);
    c.ok(
        &alice,
        vec![WalletAction::SetWalletFrozen {
            machine_id: id,
            frozen: true,
        }
        .into()],
    );
    let before = c.balance(&addr);
    // The machine cannot even pay a fee.
    assert_eq!(
        code(c.send_as(&[&device], addr, None, vec![transfer(alice.address(), 5)])),
        "wallet_frozen"
    );
    assert_eq!(c.balance(&addr), before);
    c.ok(
        &alice,
        vec![WalletAction::SetWalletFrozen {
            machine_id: id,
            frozen: false,
        }
        .into()],
    );
    assert_eq!(
        code(c.send_as(&[&device], addr, None, vec![transfer(alice.address(), 5)])),
        "ok"
    );
}

#[test]
fn the_allowlist_and_cooldown_hold_and_each_breach_is_counted() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, bob, device) = (key("alice"), key("bob"), key("d1"));
    let (id, addr) = funded_machine(&mut c, &device, 10_000_000);
    let policy = SpendPolicy {
        allowlist: vec![alice.address()],
        cooldown_blocks: 3,
        cooldown_above: Some(Amount(1000)),
        ..Default::default()
    };
    c.ok(
        &alice,
        vec![WalletAction::SetSpendPolicy {
            machine_id: id,
            policy,
        }
        .into()],
    );
    let send = |c: &mut Chain, to: Address, amount| {
        code(c.send_as(&[&device], addr, None, vec![transfer(to, amount)]))
    };
    assert_eq!(send(&mut c, bob.address(), 5), "not_allowlisted");
    assert_eq!(send(&mut c, alice.address(), 2000), "ok");
    assert_eq!(send(&mut c, alice.address(), 1), "cooldown_active");
    c.height += 3;
    assert_eq!(send(&mut c, alice.address(), 1), "ok");
    assert_eq!(c.machine(id).reputation.policy_breaches, 2);
}

#[test]
fn a_session_key_works_within_its_rights_until_it_expires_or_is_revoked() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, session, device) = (key("alice"), key("session"), key("d1"));
    let (id, addr) = funded_machine(&mut c, &device, 1_000_000);
    let expiry = c.height + 5;
    c.ok(
        &alice,
        vec![WalletAction::GrantSession {
            machine_id: id,
            key: session.public(),
            actions: vec!["transfer".into()],
            spend_cap: Amount(FEE * 2 + 500),
            expiry_height: expiry,
        }
        .into()],
    );
    let pay = |c: &mut Chain, amount| {
        code(c.send_as(
            &[&session],
            addr,
            None,
            vec![transfer(alice.address(), amount)],
        ))
    };
    assert_eq!(pay(&mut c, 400), "ok");
    // Fee and 400 spent; another fee and 101 would pass the cap.
    assert_eq!(pay(&mut c, 101), "session_cap_exceeded");
    c.height = expiry;
    assert_eq!(pay(&mut c, 1), "session_expired");
    c.height = 0;
    c.ok(
        &alice,
        vec![WalletAction::RevokeSession {
            machine_id: id,
            key: session.public(),
        }
        .into()],
    );
    assert_eq!(pay(&mut c, 1), "unauthorized");
}

#[test]
fn a_multisig_needs_its_threshold_and_changing_members_needs_it_too() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (a, b, d) = (key("alice"), key("bob"), key("dave"));
    let r = c.ok(
        &a,
        vec![WalletAction::CreateMultisig {
            members: vec![a.public(), b.public(), d.public()],
            threshold: 2,
        }
        .into()],
    );
    let ms = Address::from_hex(&r.events[1].attrs["address"].to_string()).expect("address");
    c.ok(&a, vec![transfer(ms, 1_000_000)]);
    assert_eq!(
        code(c.send_as(&[&a], ms, None, vec![transfer(a.address(), 5)])),
        "unauthorized"
    );
    assert_eq!(
        code(c.send_as(&[&a, &b], ms, None, vec![transfer(a.address(), 5)])),
        "ok"
    );
    let shrink: Action = WalletAction::UpdateMultisig {
        members: vec![a.public()],
        threshold: 1,
    }
    .into();
    assert_eq!(
        code(c.send_as(&[&a], ms, None, vec![shrink.clone()])),
        "unauthorized"
    );
    assert_eq!(code(c.send_as(&[&a, &d], ms, None, vec![shrink])), "ok");
    assert_eq!(
        code(c.send_as(&[&a], ms, None, vec![transfer(a.address(), 5)])),
        "ok"
    );
    // A multisig can own machines.
    let device = key("msdev");
    let r = c
        .send_as(&[&a], ms, None, vec![registration(ms, &device)])
        .expect("included");
    assert!(r.success, "{:?}", r.error);
}

#[test]
fn a_sponsored_machine_with_zero_balance_transacts_and_the_sponsor_cap_holds() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, sponsor, device) = (key("alice"), key("charlie"), key("d1"));
    let id = c.register(&alice, &device);
    let addr = c.machine(id).address;
    assert_eq!(c.balance(&addr), 0);
    c.ok(
        &sponsor,
        vec![WalletAction::GrantFeeAllowance {
            grantee: addr,
            cap: Amount(FEE * 2),
            expiry_height: 1_000,
        }
        .into()],
    );
    let zone = |c: &mut Chain| {
        code(c.send_as(
            &[&device],
            addr,
            Some(sponsor.address()),
            vec![WalletAction::RevokeSession {
                machine_id: id,
                key: device.public(),
            }.into()],
        ))
    };
    // The action fails (the machine is not its own owner) but the transaction is included and
    // the sponsor pays the fee.
    let before = c.balance(&sponsor.address());
    assert_eq!(zone(&mut c), "not_owner");
    assert_eq!(c.balance(&sponsor.address()), before - FEE);
    assert_eq!(zone(&mut c), "not_owner");
    assert_eq!(zone(&mut c), "fee_allowance_exceeded");
    assert_eq!(c.balance(&sponsor.address()), before - 2 * FEE);
    assert_eq!(c.balance(&addr), 0);
    // Without naming a sponsor, a machine with nothing pays nothing.
    assert_eq!(
        code(c.send_as(&[&device], addr, None, vec![transfer(alice.address(), 1)])),
        "insufficient_funds"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Random spends through every path that moves value out of a machine (its device key,
    /// a session key, and the fees of both): within every window of N consecutive blocks the
    /// outflow stays under the cap, and no value reaches anyone off the allowlist.
    #[test]
    fn no_window_exceeds_its_cap_and_nothing_leaves_the_allowlist(
        window in 1u64..12,
        cap in 5_000u128..40_000,
        per_tx in proptest::option::of(1_000u128..20_000),
        ops in proptest::collection::vec((0usize..3, 0usize..3, 1u128..15_000, 0u64..3), 1..40),
    ) {
        let mut c = Chain::new(CHAIN, 1_000_000);
        let (alice, device, session) = (key("alice"), key("d1"), key("session"));
        let (id, addr) = funded_machine(&mut c, &device, 10_000_000);
        let allowed = [alice.address(), key("bob").address()];
        let outsider = key("eve").address();
        let policy = SpendPolicy {
            max_per_tx: per_tx.map(Amount),
            max_per_window: Some(Amount(cap)),
            window_blocks: window,
            allowlist: allowed.to_vec(),
            ..Default::default()
        };
        c.ok(&alice, vec![WalletAction::SetSpendPolicy { machine_id: id, policy }.into()]);
        c.ok(&alice, vec![WalletAction::GrantSession { machine_id: id, key: session.public(), actions: vec!["transfer".into()], spend_cap: Amount(u128::MAX), expiry_height: u64::MAX }.into()]);
        let recipients = [allowed[0], allowed[1], outsider];
        let mut outflow: Vec<(u64, u128)> = Vec::new();
        for (signer, to, amount, gap) in ops {
            c.height += gap;
            let before = c.balance(&addr);
            let k = if signer == 0 { &session } else { &device };
            let actions = if signer == 2 {
                vec![transfer(recipients[to], amount / 2), transfer(recipients[(to + 1) % 3], amount / 2)]
            } else {
                vec![transfer(recipients[to], amount)]
            };
            let outsider_before = c.balance(&outsider);
            let _ = c.send_as(&[k], addr, None, actions);
            prop_assert_eq!(c.balance(&outsider), outsider_before);
            outflow.push((c.height, before - c.balance(&addr)));
        }
        for &(end, _) in &outflow {
            let in_window: u128 = outflow.iter().filter(|(h, _)| *h + window > end && *h <= end).map(|(_, a)| a).sum();
            prop_assert!(in_window <= cap, "window ending at {} moved {} > cap {}", end, in_window, cap);
        }
    }
}

#[test]
fn state_reads_see_the_machine_account_authorised_by_its_device_key() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let device = key("d1");
    let id = c.register(&key("alice"), &device);
    let acct = machina_bank::account(&c.state, &c.machine(id).address);
    assert_eq!(
        acct.auth,
        machina_bank::Authorization::Machine {
            machine_id: id,
            device_key: device.public()
        }
    );
    assert!(c.state.get(b"identity/next_id").is_some());
}

#[test]
fn a_manufacturer_attestation_is_recorded_and_checked() {
    use machina_identity::{attestation_message, manufacturer_pop_message, Attestation};
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, maker, device) = (key("alice"), key("acme-key"), key("d1"));
    let with_attestation = |signer: &Keypair, device: &Keypair| {
        let Action::Identity(IdentityAction::RegisterMachine(mut reg)) =
            registration(alice.address(), device)
        else {
            unreachable!()
        };
        reg.attestation = Some(Attestation {
            manufacturer_key: maker.public(),
            signature: signer.sign(&attestation_message(&device.public())),
        });
        IdentityAction::RegisterMachine(reg).into()
    };
    // Not yet a registered manufacturer.
    assert_eq!(
        code(c.send(&alice, vec![with_attestation(&maker, &device)])),
        "unknown_manufacturer"
    );
    let reg_maker = IdentityAction::RegisterManufacturer {
        name: "Acme".into(),
        public_key: maker.public(),
        signature: maker.sign(&manufacturer_pop_message(CHAIN, &alice.address())),
    }
    .into();
    c.ok(&alice, vec![reg_maker]);
    // Signed by someone else than the manufacturer key it names.
    assert_eq!(
        code(c.send(&alice, vec![with_attestation(&key("forger"), &device)])),
        "bad_attestation"
    );
    let r = c.ok(&alice, vec![with_attestation(&maker, &device)]);
    let id: u64 = r.events[1].attrs["machine_id"].parse().expect("id");
    assert_eq!(c.machine(id).attested_by, Some(maker.public()));
    assert_eq!(
        machina_identity::manufacturer(&c.state, &maker.public()).as_deref(),
        Some("Acme")
    );
}

#[test]
fn a_session_key_dies_with_a_change_of_owner_and_names_are_bounded() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, bob, session, device) = (key("alice"), key("bob"), key("session"), key("d1"));
    let (id, addr) = funded_machine(&mut c, &device, 1_000_000);
    let long = "x".repeat(65);
    assert_eq!(
        code(c.send(
            &alice,
            vec![WalletAction::GrantSession {
                machine_id: id,
                key: session.public(),
                actions: vec![long],
                spend_cap: Amount(1),
                expiry_height: 99
            }.into()]
        )),
        "invalid_session"
    );
    c.ok(
        &alice,
        vec![WalletAction::GrantSession {
            machine_id: id,
            key: session.public(),
            actions: vec!["transfer".into()],
            spend_cap: Amount(100_000),
            expiry_height: 1_000,
        }
        .into()],
    );
    assert_eq!(
        code(c.send_as(&[&session], addr, None, vec![transfer(alice.address(), 1)])),
        "ok"
    );
    c.ok(
        &alice,
        vec![IdentityAction::TransferMachine {
            machine_id: id,
            new_owner: bob.address(),
        }
        .into()],
    );
    assert_eq!(
        code(c.send_as(&[&session], addr, None, vec![transfer(alice.address(), 1)])),
        "unauthorized"
    );
}

#[test]
fn lengthening_the_window_keeps_the_spend_state_readable() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, device) = (key("alice"), key("d1"));
    let (id, addr) = funded_machine(&mut c, &device, 100_000_000);
    let policy = |w| SpendPolicy {
        max_per_window: Some(Amount(50_000_000)),
        window_blocks: w,
        ..Default::default()
    };
    c.ok(
        &alice,
        vec![WalletAction::SetSpendPolicy {
            machine_id: id,
            policy: policy(32),
        }
        .into()],
    );
    for _ in 0..40 {
        assert_eq!(
            code(c.send_as(&[&device], addr, None, vec![transfer(alice.address(), 1)])),
            "ok"
        );
    }
    c.ok(
        &alice,
        vec![WalletAction::SetSpendPolicy {
            machine_id: id,
            policy: policy(64),
        }
        .into()],
    );
    for _ in 0..3 {
        assert_eq!(
            code(c.send_as(&[&device], addr, None, vec![transfer(alice.address(), 1)])),
            "ok"
        );
    }
    assert!(
        machina_wallet::spend_state(&c.state, &addr).buckets.len()
            <= machina_wallet::WINDOW_BUCKETS as usize + 1
    );
}

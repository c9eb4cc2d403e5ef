//! Machine identities and agent wallets through the whole transaction path: signatures,
//! authorisation, fees and actions.

use machina_bank::BankAction;
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_primitives::{Address, Amount, Keypair};
use machina_state::StateRead;
use machina_stf::Action;
use machina_wallet::{SpendPolicy, WalletAction};
use proptest::prelude::*;

use machina_testkit::{key, outcome as code, Chain, FEE};

const CHAIN: u64 = 9;

/// What these tests do with a chain, beyond the shared harness.
trait Machines {
    fn register(&mut self, owner: &Keypair, device: &Keypair) -> u64;
    fn machine(&self, id: u64) -> machina_identity::Machine;
}

impl Machines for Chain {
    fn register(&mut self, owner: &Keypair, device: &Keypair) -> u64 {
        let r = self.ok(owner, vec![registration(owner.address(), device)]);
        r.events[1].attrs["machine_id"].parse().expect("id")
    }

    fn machine(&self, id: u64) -> machina_identity::Machine {
        machina_identity::machine(&self.state, id).expect("registered")
    }
}

fn registration(owner: Address, device: &Keypair) -> Action {
    IdentityAction::RegisterMachine(Box::new(MachineRegistration {
        device_key: device.public(),
        device_signature: device.sign(&device_pop_message(CHAIN, &owner)),
        kind: MachineKind::Solar,
        rated_power_w: 5000,
        capacity_wh: None,
        zone: Some("zone-a".into()),
        metadata: MachineMetadata::default(),
        attestation: None,
    }))
    .into()
}

fn transfer(to: Address, amount: u128) -> Action {
    BankAction::Transfer {
        to,
        amount: Amount(amount),
    }
    .into()
}

/// A funded machine: alice owns it, `device` signs for it.
fn funded_machine(c: &mut Chain, device: &Keypair, amount: u128) -> (u64, Address) {
    let id = c.register(&key("alice"), device);
    let addr = c.machine(id).address;
    c.ok(&key("alice"), vec![transfer(addr, amount)]);
    (id, addr)
}

#[test]
fn a_device_key_cannot_be_registered_without_its_own_signature() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, device, other) = (key("alice"), key("d1"), key("other"));
    let Action::Identity(IdentityAction::RegisterMachine(mut reg)) =
        registration(alice.address(), &device)
    else {
        unreachable!()
    };
    reg.device_signature = other.sign(&device_pop_message(CHAIN, &alice.address()));
    let forged = IdentityAction::RegisterMachine(reg).into();
    assert_eq!(
        code(c.send(&alice, vec![forged])),
        "bad_proof_of_possession"
    );
    // A proof made for another owner does not carry over.
    let for_bob = registration(key("bob").address(), &device);
    assert_eq!(
        code(c.send(&alice, vec![for_bob])),
        "bad_proof_of_possession"
    );
    assert!(machina_identity::machine(&c.state, 1).is_none());
}

#[test]
fn a_registration_needs_the_owners_signature_too() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, device) = (key("alice"), key("d1"));
    let r = c.send_as(
        &[&device],
        alice.address(),
        None,
        vec![registration(alice.address(), &device)],
    );
    assert_eq!(code(r), "unauthorized");
}

#[test]
fn registering_the_same_device_twice_is_refused() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let device = key("d1");
    c.register(&key("alice"), &device);
    let again = c.send(
        &key("bob"),
        vec![registration(key("bob").address(), &device)],
    );
    assert_eq!(code(again), "duplicate_device");
}

#[test]
fn nobody_but_the_owner_changes_a_machine() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (bob, device) = (key("bob"), key("d1"));
    let id = c.register(&key("alice"), &device);
    let before = c.machine(id);
    let new_key = key("d2");
    let attempts = vec![
        IdentityAction::SetMachineMetadata {
            machine_id: id,
            metadata: MachineMetadata {
                serial: "x".into(),
                ..Default::default()
            },
        }
        .into(),
        IdentityAction::SetMachineZone {
            machine_id: id,
            zone: None,
        }
        .into(),
        IdentityAction::RotateDeviceKey {
            machine_id: id,
            new_key: new_key.public(),
            signature: new_key.sign(&device_pop_message(CHAIN, &bob.address())),
        }
        .into(),
        IdentityAction::RevokeMachine { machine_id: id }.into(),
        IdentityAction::TransferMachine {
            machine_id: id,
            new_owner: bob.address(),
        }
        .into(),
        WalletAction::SetSpendPolicy {
            machine_id: id,
            policy: SpendPolicy::default(),
        }
        .into(),
        WalletAction::SetWalletFrozen {
            machine_id: id,
            frozen: true,
        }
        .into(),
        WalletAction::SweepMachine { machine_id: id }.into(),
        WalletAction::GrantSession {
            machine_id: id,
            key: bob.public(),
            actions: vec!["transfer".into()],
            spend_cap: Amount(1),
            expiry_height: 99,
        }
        .into(),
    ];
    for a in attempts {
        assert_eq!(code(c.send(&bob, vec![a])), "not_owner");
    }
    // The machine itself is not its owner either.
    let addr = before.address;
    let r = c.send_as(
        &[&device],
        addr,
        Some(key("alice").address()),
        vec![IdentityAction::RevokeMachine { machine_id: id }.into()],
    );
    assert!(matches!(code(r).as_str(), "no_fee_allowance" | "not_owner"));
    assert_eq!(c.machine(id), before);
}

/// peaq's DID pallet once let any account that had added an attribute to a DID edit or delete
/// the DID's other attributes. Here the equivalent is an account that was given some right over
/// a machine (a session key for payments) trying to rewrite the machine's metadata: refused.
#[test]
fn an_account_with_some_right_over_a_machine_cannot_edit_its_identity() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, bob, device) = (key("alice"), key("bob"), key("d1"));
    let id = c.register(&alice, &device);
    let meta = MachineMetadata {
        manufacturer: "Acme".into(),
        serial: "S1".into(),
        ..Default::default()
    };
    c.ok(
        &alice,
        vec![IdentityAction::SetMachineMetadata {
            machine_id: id,
            metadata: meta.clone(),
        }
        .into()],
    );
    c.ok(
        &alice,
        vec![WalletAction::GrantSession {
            machine_id: id,
            key: bob.public(),
            actions: vec!["transfer".into()],
            spend_cap: Amount(10_000),
            expiry_height: 1_000,
        }
        .into()],
    );
    let addr = c.machine(id).address;
    c.ok(&alice, vec![transfer(addr, 100_000)]);
    let wipe: Action = IdentityAction::SetMachineMetadata {
        machine_id: id,
        metadata: MachineMetadata::default(),
    }
    .into();
    // As the machine, with the session key: the action is not granted.
    assert_eq!(
        code(c.send_as(&[&bob], addr, None, vec![wipe.clone()])),
        "session_action_not_allowed"
    );
    // As itself: not the owner.
    assert_eq!(code(c.send(&bob, vec![wipe])), "not_owner");
    assert_eq!(c.machine(id).metadata, meta);
}

#[test]
fn after_rotation_the_old_key_is_refused_and_the_address_stays() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (old, new) = (key("d1"), key("d2"));
    let (id, addr) = funded_machine(&mut c, &old, 1_000_000);
    let alice = key("alice");
    c.ok(
        &alice,
        vec![IdentityAction::RotateDeviceKey {
            machine_id: id,
            new_key: new.public(),
            signature: new.sign(&device_pop_message(CHAIN, &alice.address())),
        }
        .into()],
    );
    assert_eq!(c.machine(id).address, addr);
    assert_eq!(
        code(c.send_as(&[&old], addr, None, vec![transfer(alice.address(), 1)])),
        "unauthorized"
    );
    assert_eq!(
        code(c.send_as(&[&new], addr, None, vec![transfer(alice.address(), 1)])),
        "ok"
    );
    // The old key can never come back as another machine.
    assert_eq!(
        code(c.send(&key("bob"), vec![registration(key("bob").address(), &old)])),
        "duplicate_device"
    );
}

#[test]
fn a_revoked_machine_cannot_act_but_its_owner_can_sweep_it() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let device = key("d1");
    let (id, addr) = funded_machine(&mut c, &device, 1_000_000);
    let alice = key("alice");
    c.ok(
        &alice,
        vec![IdentityAction::RevokeMachine { machine_id: id }.into()],
    );
    assert_eq!(
        code(c.send_as(&[&device], addr, None, vec![transfer(alice.address(), 1)])),
        "machine_revoked"
    );
    assert_eq!(
        code(c.send(
            &alice,
            vec![IdentityAction::SetMachineZone {
                machine_id: id,
                zone: None
            }.into()]
        )),
        "machine_revoked"
    );
    let before = c.balance(&alice.address());
    c.ok(
        &alice,
        vec![WalletAction::SweepMachine { machine_id: id }.into()],
    );
    assert_eq!(c.balance(&addr), 0);
    assert_eq!(c.balance(&alice.address()), before + 1_000_000 - FEE);
    assert_eq!(c.machine(id).status, machina_identity::Status::Revoked);
}

#[test]
fn an_ownership_transfer_keeps_identity_and_reputation() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let (alice, bob, device) = (key("alice"), key("bob"), key("d1"));
    let (id, addr) = funded_machine(&mut c, &device, 1_000_000);
    c.ok(
        &alice,
        vec![WalletAction::SetSpendPolicy {
            machine_id: id,
            policy: SpendPolicy {
                max_per_tx: Some(Amount(10)),
                ..Default::default()
            },
        }
        .into()],
    );
    assert_eq!(
        code(c.send_as(&[&device], addr, None, vec![transfer(bob.address(), 11)])),
        "per_tx_cap_exceeded"
    );
    let before = c.machine(id);
    assert_eq!(before.reputation.policy_breaches, 1);
    c.ok(
        &alice,
        vec![IdentityAction::TransferMachine {
            machine_id: id,
            new_owner: bob.address(),
        }
        .into()],
    );
    let after = c.machine(id);
    assert_eq!(
        (after.reputation, after.address, after.device_key),
        (before.reputation, addr, device.public())
    );
    assert_eq!(after.owner, bob.address());
    assert_eq!(
        code(c.send(
            &alice,
            vec![IdentityAction::RevokeMachine { machine_id: id }.into()]
        )),
        "not_owner"
    );
    assert_eq!(
        machina_identity::machines_of(&c.state, &alice.address(), 0, 10).1,
        0
    );
    assert_eq!(
        machina_identity::machines_of(&c.state, &bob.address(), 0, 10).0[0].machine_id,
        id
    );
}

#[test]
fn machines_of_an_owner_page_and_survive_transfers_out_of_the_middle() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let alice = key("alice");
    let ids: Vec<u64> = (0..5)
        .map(|i| c.register(&alice, &key(&format!("dev{i}"))))
        .collect();
    c.ok(
        &alice,
        vec![IdentityAction::TransferMachine {
            machine_id: ids[1],
            new_owner: key("bob").address(),
        }
        .into()],
    );
    let (page1, total) = machina_identity::machines_of(&c.state, &alice.address(), 0, 2);
    let (page2, _) = machina_identity::machines_of(&c.state, &alice.address(), 2, 2);
    assert_eq!(total, 4);
    let mut listed: Vec<u64> = page1.iter().chain(&page2).map(|m| m.machine_id).collect();
    listed.sort();
    assert_eq!(listed, vec![ids[0], ids[2], ids[3], ids[4]]);
}

#[test]
fn unknown_machines_and_bad_registrations_get_their_own_codes_and_change_nothing() {
    let mut c = Chain::new(CHAIN, 1_000_000);
    let alice = key("alice");
    assert_eq!(
        code(c.send(
            &alice,
            vec![IdentityAction::RevokeMachine { machine_id: 42 }.into()]
        )),
        "unknown_machine"
    );
    let Action::Identity(IdentityAction::RegisterMachine(mut reg)) =
        registration(alice.address(), &key("d1"))
    else {
        unreachable!()
    };
    reg.kind = MachineKind::Battery;
    assert_eq!(
        code(c.send(&alice, vec![IdentityAction::RegisterMachine(reg).into()])),
        "invalid_machine"
    );
    assert!(machina_identity::machine(&c.state, 1).is_none());
}

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

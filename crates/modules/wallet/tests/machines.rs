//! Machine identities through the whole transaction path: registration, signatures,
//! authorisation, rotation, revocation and ownership.

use machina_identity::{device_pop_message, IdentityAction, MachineKind, MachineMetadata};
use machina_primitives::Amount;
use machina_stf::Action;
use machina_testkit::{key, outcome as code, Chain, FEE};
use machina_wallet::{SpendPolicy, WalletAction};

mod common;
use common::{funded_machine, registration, transfer, Machines, CHAIN};

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

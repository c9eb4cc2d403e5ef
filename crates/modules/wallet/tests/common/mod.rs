//! What the machine and wallet tests share: registering machines on the test chain.

#![allow(dead_code)] // Each test file uses a part of it.

use machina_bank::BankAction;
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_primitives::{Address, Amount, Keypair};
use machina_stf::Action;
use machina_testkit::{key, Chain};

/// The chain id of these tests.
pub const CHAIN: u64 = 9;

/// What these tests do with a chain, beyond the shared harness.
pub trait Machines {
    /// Registers `device` for `owner`; returns the machine id.
    fn register(&mut self, owner: &Keypair, device: &Keypair) -> u64;
    /// A registered machine.
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

/// A solar machine's registration in zone-a, with the device's proof of possession.
pub fn registration(owner: Address, device: &Keypair) -> Action {
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

/// A native transfer.
pub fn transfer(to: Address, amount: u128) -> Action {
    BankAction::Transfer {
        to,
        amount: Amount(amount),
    }
    .into()
}

/// A funded machine: alice owns it, `device` signs for it.
pub fn funded_machine(c: &mut Chain, device: &Keypair, amount: u128) -> (u64, Address) {
    let id = c.register(&key("alice"), device);
    let addr = c.machine(id).address;
    c.ok(&key("alice"), vec![transfer(addr, amount)]);
    (id, addr)
}

//! Machines with shares on an in-memory chain, and revenue paid to them directly through
//! [`machina_shares::credit`], as the markets pay it.

#![allow(dead_code)] // Each test file uses a part of it.

use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_primitives::{Address, Amount, BlockEnv, Keypair};
use machina_shares::{SharesAction, Source};
use machina_state::{AuthenticatedState, Overlay};
use machina_testkit::{key, Chain};

pub const CHAIN: u64 = 23;

/// The account revenue is paid from in these tests: a market's escrow stand-in, funded by
/// alice.
pub fn market() -> Keypair {
    key("market")
}

/// A chain whose market account holds `funds`.
pub fn chain(funds: u128) -> Chain {
    let mut c = Chain::new(CHAIN, 1_000_000);
    c.ok(
        &key("alice"),
        vec![machina_bank::BankAction::Transfer {
            to: market().address(),
            amount: Amount(funds),
        }
        .into()],
    );
    c
}

/// Registers a battery owned by `owner`; returns its id.
pub fn machine(c: &mut Chain, owner: &Keypair, device: &str) -> u64 {
    let d = key(device);
    let reg = MachineRegistration {
        device_key: d.public(),
        device_signature: d.sign(&device_pop_message(CHAIN, &owner.address())),
        kind: MachineKind::Battery,
        rated_power_w: 5_000,
        capacity_wh: Some(10_000),
        zone: None,
        metadata: MachineMetadata::default(),
        attestation: None,
    };
    let r = c.ok(
        owner,
        vec![IdentityAction::RegisterMachine(Box::new(reg)).into()],
    );
    r.events[1].attrs["machine_id"].parse().expect("id")
}

/// The issue action.
pub fn issue(machine_id: u64, supply: u64, fee_bps: u16, forced: bool) -> machina_stf::Action {
    SharesAction::IssueShares {
        machine_id,
        supply,
        operator_fee_bps: fee_bps,
        forced_transfer: forced,
    }
    .into()
}

/// The transfer action.
pub fn send(machine_id: u64, to: &Keypair, amount: u64) -> machina_stf::Action {
    SharesAction::TransferShares {
        machine_id,
        to: to.address(),
        amount,
    }
    .into()
}

/// The claim action.
pub fn claim(machine_id: Option<u64>) -> machina_stf::Action {
    SharesAction::ClaimRevenue { machine_id }.into()
}

/// Pays `amount` of revenue to `machine_id` from the market account in a block of its own,
/// as a compute lease payment of blocks `[h, h + 1)`.
pub fn revenue(c: &mut Chain, machine_id: u64, amount: u128) -> Option<machina_primitives::Event> {
    c.height += 1;
    let env = BlockEnv {
        chain_id: CHAIN,
        height: c.height,
        timestamp_ms: c.now,
        proposer: Address([0xfe; 20]),
    };
    let source = Source::Compute {
        job_id: 1,
        lease: 0,
        from_height: c.height,
        to_height: c.height + 1,
    };
    let mut ov = Overlay::new(&c.state);
    let e = machina_shares::credit(
        &mut ov,
        &env,
        machine_id,
        &market().address(),
        Amount(amount),
        source,
    );
    let changes = ov.into_changes();
    c.state.apply(&changes);
    e
}

/// What `holder` may claim of `machine_id` now.
pub fn claimable(c: &Chain, machine_id: u64, holder: &Keypair) -> u128 {
    machina_shares::claimable(&c.state, machine_id, &holder.address()).0
}

/// The shares `holder` has of `machine_id`.
pub fn balance(c: &Chain, machine_id: u64, holder: &Keypair) -> u64 {
    machina_shares::position(&c.state, machine_id, &holder.address()).balance
}

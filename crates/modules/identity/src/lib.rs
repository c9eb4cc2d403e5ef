//! Machina identity module: machines with device keys proven by possession, owners, kinds,
//! ratings, zones, rotation, revocation and reputation.
//!
//! Layer 2. A machine's id is fixed at registration, and so is the address of its account
//! (derived from the id, not the key), so rotating the device key changes who signs, never the
//! address. Only the owner changes a machine; every change checks that first.

pub mod action;
pub mod cli;
mod keys;
mod module;
mod record;
pub mod routes;

pub use action::{
    attestation_message, device_pop_message, manufacturer_pop_message, Attestation, IdentityAction,
    MachineKind, MachineMetadata, MachineRegistration,
};
pub use module::Identity;
pub use record::{Machine, Reputation, Status};

use machina_bank::Authorization;
use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Address, Decode, Encode, Event, PublicKey};
use machina_state::{StateRead, StateWrite};
use thiserror::Error;

/// Most machines one page of an owner's list returns.
pub const MAX_PAGE: u64 = 100;

/// Largest encoded machine record.
const MAX_MACHINE_BYTES: usize = 4096;

/// Why the identity module refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// No machine has this id.
    #[error("no machine with id {0}")]
    UnknownMachine(u64),
    /// The device key is registered already.
    #[error("device key is already registered to machine {0}")]
    DuplicateDevice(u64),
    /// The sender does not own the machine.
    #[error("{sender} is not the owner of machine {machine_id} (its owner is {owner})")]
    NotOwner {
        /// The machine.
        machine_id: u64,
        /// Its owner.
        owner: Address,
        /// Who tried.
        sender: Address,
    },
    /// The machine was revoked.
    #[error("machine {0} is revoked")]
    MachineRevoked(u64),
    /// Registration data breaks a rule.
    #[error("invalid machine: {0}")]
    InvalidMachine(String),
    /// The attesting key is not a registered manufacturer.
    #[error("attestation key {0:?} is not a registered manufacturer")]
    UnknownManufacturer(PublicKey),
    /// The manufacturer key is registered already.
    #[error("manufacturer key is already registered")]
    DuplicateManufacturer,
}

impl IdentityError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::UnknownMachine(_) => "unknown_machine",
            IdentityError::DuplicateDevice(_) => "duplicate_device",
            IdentityError::NotOwner { .. } => "not_owner",
            IdentityError::MachineRevoked(_) => "machine_revoked",
            IdentityError::InvalidMachine(_) => "invalid_machine",
            IdentityError::UnknownManufacturer(_) => "unknown_manufacturer",
            IdentityError::DuplicateManufacturer => "duplicate_manufacturer",
        }
    }
}

/// Result alias of the identity module.
pub type Result<T> = std::result::Result<T, IdentityError>;

fn read_u64(state: &impl StateRead, key: &[u8]) -> u64 {
    state.get(key).map_or(0, |b| {
        u64::decode_exact(&b, 8).expect("identity wrote this counter")
    })
}

/// The address of a machine's account: the first 20 bytes of
/// `SHA-256("machina/machine-account/v1" || id)`.
pub fn machine_address(machine_id: u64) -> Address {
    Address::derive(&[b"machina/machine-account/v1", &machine_id.to_be_bytes()])
}

/// The machine with this id.
pub fn machine(state: &impl StateRead, machine_id: u64) -> Option<Machine> {
    state
        .get(&keys::machine(machine_id))
        .map(|b| Machine::decode_exact(&b, MAX_MACHINE_BYTES).expect("identity wrote this record"))
}

fn put_machine(state: &mut impl StateWrite, m: &Machine) {
    state.set(keys::machine(m.machine_id), m.encode());
}

/// Machines of `owner`, `limit` (at most [`MAX_PAGE`]) from `offset`, and how many it has.
pub fn machines_of(
    state: &impl StateRead,
    owner: &Address,
    offset: u64,
    limit: u64,
) -> (Vec<Machine>, u64) {
    let total = read_u64(state, &keys::owner_count(owner));
    let end = offset.saturating_add(limit.min(MAX_PAGE)).min(total);
    let page = (offset..end)
        .filter_map(|slot| {
            let id = read_u64(state, &keys::owner_slot(owner, slot));
            machine(state, id)
        })
        .collect();
    (page, total)
}

/// How many machines were ever registered: their ids run from 1 to this, revoked ones included.
pub fn machine_count(state: &impl StateRead) -> u64 {
    read_u64(state, &keys::next_id())
}

/// The name of a registered manufacturer key.
pub fn manufacturer(state: &impl StateRead, key: &PublicKey) -> Option<String> {
    state
        .get(&keys::manufacturer(key))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Registers a manufacturer key (its proof of possession was verified with the signatures).
pub fn register_manufacturer(
    state: &mut impl StateWrite,
    name: &str,
    key: &PublicKey,
) -> Result<Event> {
    check_label("manufacturer name", name)?;
    if state.get(&keys::manufacturer(key)).is_some() {
        return Err(IdentityError::DuplicateManufacturer);
    }
    state.set(keys::manufacturer(key), name.as_bytes().to_vec());
    Ok(Event::new(
        "identity",
        "manufacturer_registered",
        &[("name", name.into())],
    ))
}

fn check_label(what: &str, s: &str) -> Result<()> {
    if s.len() > MAX_LABEL_BYTES {
        return Err(IdentityError::InvalidMachine(format!(
            "{what} has {} bytes, limit is {MAX_LABEL_BYTES}",
            s.len()
        )));
    }
    Ok(())
}

pub(crate) fn check_registration(reg: &MachineRegistration) -> Result<()> {
    if reg.rated_power_w == 0 {
        return Err(IdentityError::InvalidMachine(
            "rated power must be at least 1 W".into(),
        ));
    }
    match (reg.kind, reg.capacity_wh) {
        (MachineKind::Battery, None | Some(0)) => {
            return Err(IdentityError::InvalidMachine(
                "a battery needs a storage capacity in Wh".into(),
            ))
        }
        (k, Some(_)) if k != MachineKind::Battery => {
            return Err(IdentityError::InvalidMachine(format!(
                "only batteries have a storage capacity, not {}",
                k.name()
            )))
        }
        _ => {}
    }
    if let Some(z) = &reg.zone {
        check_label("zone", z)?;
    }
    reg.metadata.check().map_err(IdentityError::InvalidMachine)
}

fn add_to_owner(state: &mut impl StateWrite, owner: &Address, machine_id: u64) -> u64 {
    let slot = read_u64(state, &keys::owner_count(owner));
    state.set(keys::owner_slot(owner, slot), machine_id.encode());
    state.set(keys::owner_count(owner), (slot + 1).encode());
    slot
}

/// Removes a machine from its owner's list by moving the last entry into its slot.
fn remove_from_owner(state: &mut impl StateWrite, owner: &Address, slot: u64) {
    let last = read_u64(state, &keys::owner_count(owner))
        .checked_sub(1)
        .expect("a machine's owner lists it");
    if slot != last {
        let moved = read_u64(state, &keys::owner_slot(owner, last));
        state.set(keys::owner_slot(owner, slot), moved.encode());
        let mut m = machine(state, moved).expect("owner list names existing machines");
        m.owner_slot = slot;
        put_machine(state, &m);
    }
    state.delete(keys::owner_slot(owner, last));
    state.set(keys::owner_count(owner), last.encode());
}

/// Registers a machine owned by `owner`. The device's proof of possession and any
/// attestation signature were verified with the transaction's signatures.
pub fn register(
    state: &mut impl StateWrite,
    owner: &Address,
    reg: &MachineRegistration,
    height: u64,
) -> Result<(u64, Event)> {
    check_registration(reg)?;
    if let Some(b) = state.get(&keys::device(&reg.device_key)) {
        let id = u64::decode_exact(&b, 8).expect("identity wrote this index");
        return Err(IdentityError::DuplicateDevice(id));
    }
    if let Some(a) = &reg.attestation {
        if manufacturer(state, &a.manufacturer_key).is_none() {
            return Err(IdentityError::UnknownManufacturer(a.manufacturer_key));
        }
    }
    let machine_id = read_u64(state, &keys::next_id()) + 1;
    state.set(keys::next_id(), machine_id.encode());
    let address = machine_address(machine_id);
    let owner_slot = add_to_owner(state, owner, machine_id);
    let m = Machine {
        machine_id,
        owner: *owner,
        address,
        kind: reg.kind,
        rated_power_w: reg.rated_power_w,
        capacity_wh: reg.capacity_wh,
        zone: reg.zone.clone(),
        metadata: reg.metadata.clone(),
        device_key: reg.device_key,
        status: Status::Active,
        attested_by: reg.attestation.as_ref().map(|a| a.manufacturer_key),
        registered_height: height,
        reputation: Reputation::default(),
        owner_slot,
    };
    put_machine(state, &m);
    state.set(keys::device(&reg.device_key), machine_id.encode());
    machina_bank::set_authorization(
        state,
        &address,
        Authorization::Machine {
            machine_id,
            device_key: reg.device_key,
        },
    );
    let event = Event::new(
        "identity",
        "machine_registered",
        &[
            ("machine_id", machine_id.into()),
            ("owner", owner.into()),
            ("address", address.into()),
            ("kind", reg.kind.name().into()),
        ],
    );
    Ok((machine_id, event))
}

/// The machine, if `sender` owns it (revoked or not).
pub fn owned(state: &impl StateRead, sender: &Address, machine_id: u64) -> Result<Machine> {
    let m = machine(state, machine_id).ok_or(IdentityError::UnknownMachine(machine_id))?;
    if m.owner != *sender {
        return Err(IdentityError::NotOwner {
            machine_id,
            owner: m.owner,
            sender: *sender,
        });
    }
    Ok(m)
}

/// The machine, if `sender` owns it and it is not revoked.
pub fn owned_active(state: &impl StateRead, sender: &Address, machine_id: u64) -> Result<Machine> {
    let m = owned(state, sender, machine_id)?;
    if m.status == Status::Revoked {
        return Err(IdentityError::MachineRevoked(machine_id));
    }
    Ok(m)
}

fn changed(kind: &str, machine_id: u64) -> Event {
    Event::new("identity", kind, &[("machine_id", machine_id.into())])
}

/// Replaces a machine's metadata (owner only).
pub fn set_metadata(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    metadata: &MachineMetadata,
) -> Result<Event> {
    let mut m = owned_active(state, sender, machine_id)?;
    metadata.check().map_err(IdentityError::InvalidMachine)?;
    m.metadata = metadata.clone();
    put_machine(state, &m);
    Ok(changed("metadata_set", machine_id))
}

/// Moves a machine to a zone (owner only).
pub fn set_zone(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    zone: Option<&str>,
) -> Result<Event> {
    let mut m = owned_active(state, sender, machine_id)?;
    if let Some(z) = zone {
        check_label("zone", z)?;
    }
    m.zone = zone.map(str::to_owned);
    put_machine(state, &m);
    Ok(changed("zone_set", machine_id))
}

/// Replaces the device key (owner only). The old key is refused from the next transaction on,
/// and stays in the device index so it can never be registered again.
pub fn rotate_key(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    new_key: &PublicKey,
) -> Result<Event> {
    let mut m = owned_active(state, sender, machine_id)?;
    if let Some(b) = state.get(&keys::device(new_key)) {
        let id = u64::decode_exact(&b, 8).expect("identity wrote this index");
        return Err(IdentityError::DuplicateDevice(id));
    }
    m.device_key = *new_key;
    put_machine(state, &m);
    state.set(keys::device(new_key), machine_id.encode());
    machina_bank::set_authorization(
        state,
        &m.address,
        Authorization::Machine {
            machine_id,
            device_key: *new_key,
        },
    );
    Ok(changed("device_key_rotated", machine_id))
}

/// Revokes a machine for good (owner only): its account can no longer sign anything.
pub fn revoke(state: &mut impl StateWrite, sender: &Address, machine_id: u64) -> Result<Event> {
    let mut m = owned_active(state, sender, machine_id)?;
    m.status = Status::Revoked;
    put_machine(state, &m);
    machina_bank::set_authorization(state, &m.address, Authorization::Revoked { machine_id });
    Ok(changed("machine_revoked", machine_id))
}

/// Gives a machine to `new_owner` (owner only). Identity, account and reputation stay.
pub fn transfer(
    state: &mut impl StateWrite,
    sender: &Address,
    machine_id: u64,
    new_owner: &Address,
) -> Result<Event> {
    let m = owned_active(state, sender, machine_id)?;
    if new_owner == sender {
        return Err(IdentityError::InvalidMachine(
            "the new owner is the current owner".into(),
        ));
    }
    remove_from_owner(state, sender, m.owner_slot);
    // Re-read: removal may have rewritten this record if it was moved (it was not the last).
    let mut m = machine(state, machine_id).expect("still registered");
    m.owner = *new_owner;
    m.owner_slot = add_to_owner(state, new_owner, machine_id);
    put_machine(state, &m);
    Ok(Event::new(
        "identity",
        "machine_transferred",
        &[
            ("machine_id", machine_id.into()),
            ("new_owner", new_owner.into()),
        ],
    ))
}

/// Lets another module update a machine's reputation counters.
pub fn update_reputation(
    state: &mut impl StateWrite,
    machine_id: u64,
    update: impl FnOnce(&mut Reputation),
) {
    if let Some(mut m) = machine(state, machine_id) {
        update(&mut m.reputation);
        put_machine(state, &m);
    }
}

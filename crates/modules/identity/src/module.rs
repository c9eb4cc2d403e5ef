//! The identity module as a module: stateless checks, embedded signatures, dispatch.

use crate::action::{
    attestation_message, device_pop_message, manufacturer_pop_message, IdentityAction,
};
use crate::IdentityError;
use machina_module::{ActionCtx, EmbeddedSig, Host, Module, ModuleError, SigRole, StatelessCtx};
use machina_primitives::{Address, Event};

/// The identity module.
pub struct Identity;

impl ModuleError for IdentityError {
    const CODES: &'static [&'static str] = &[
        "unknown_machine",
        "duplicate_device",
        "not_owner",
        "machine_revoked",
        "invalid_machine",
        "unknown_manufacturer",
        "duplicate_manufacturer",
    ];

    fn code(&self) -> &'static str {
        IdentityError::code(self)
    }
}

impl Module for Identity {
    const NAME: &'static str = "identity";
    const ID: u8 = 1;
    type Action = IdentityAction;
    type Error = IdentityError;
    type Genesis = ();

    fn check_stateless(action: &IdentityAction, _cx: &StatelessCtx) -> crate::Result<()> {
        match action {
            IdentityAction::RegisterMachine(reg) => crate::check_registration(reg),
            IdentityAction::SetMachineMetadata { metadata, .. } => {
                metadata.check().map_err(IdentityError::InvalidMachine)
            }
            _ => Ok(()),
        }
    }

    fn embedded_signatures(
        action: &IdentityAction,
        chain_id: u64,
        sender: &Address,
    ) -> Vec<EmbeddedSig> {
        let pop = |key, signature| EmbeddedSig {
            role: SigRole::ProofOfPossession,
            message: device_pop_message(chain_id, sender),
            key,
            signature,
        };
        match action {
            IdentityAction::RegisterMachine(r) => {
                let mut v = vec![pop(r.device_key, r.device_signature)];
                if let Some(a) = &r.attestation {
                    v.push(EmbeddedSig {
                        role: SigRole::Attestation,
                        message: attestation_message(&r.device_key),
                        key: a.manufacturer_key,
                        signature: a.signature,
                    });
                }
                v
            }
            IdentityAction::RotateDeviceKey {
                new_key, signature, ..
            } => vec![pop(*new_key, *signature)],
            IdentityAction::RegisterManufacturer {
                public_key,
                signature,
                ..
            } => vec![EmbeddedSig {
                role: SigRole::ProofOfPossession,
                message: manufacturer_pop_message(chain_id, sender),
                key: *public_key,
                signature: *signature,
            }],
            _ => Vec::new(),
        }
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &IdentityAction,
    ) -> crate::Result<Vec<Event>> {
        let state = host;
        let sender = &ctx.sender;
        let event = match action {
            IdentityAction::RegisterManufacturer {
                name, public_key, ..
            } => crate::register_manufacturer(state, name, public_key)?,
            IdentityAction::RegisterMachine(reg) => {
                crate::register(state, sender, reg, ctx.height())?.1
            }
            IdentityAction::SetMachineMetadata {
                machine_id,
                metadata,
            } => crate::set_metadata(state, sender, *machine_id, metadata)?,
            IdentityAction::SetMachineZone { machine_id, zone } => {
                crate::set_zone(state, sender, *machine_id, zone.as_deref())?
            }
            IdentityAction::RotateDeviceKey {
                machine_id,
                new_key,
                ..
            } => crate::rotate_key(state, sender, *machine_id, new_key)?,
            IdentityAction::RevokeMachine { machine_id } => {
                crate::revoke(state, sender, *machine_id)?
            }
            IdentityAction::TransferMachine {
                machine_id,
                new_owner,
            } => crate::transfer(state, sender, *machine_id, new_owner)?,
        };
        Ok(vec![event])
    }
}

//! The identity module's `machina tx` and `machina query` subcommands.

use crate::action::{
    attestation_message, device_pop_message, manufacturer_pop_message, Attestation, IdentityAction,
    MachineKind, MachineMetadata, MachineRegistration,
};
use anyhow::Context;
use clap::{Args, Subcommand};
use machina_module_cli::{attr_text, attr_u64, event_attr, QueryHost, TxHost};
use serde_json::json;

/// `machina tx machine ...` and `machina tx manufacturer ...`.
#[derive(Subcommand)]
pub enum IdentityTx {
    /// Machine identities.
    #[command(subcommand)]
    Machine(MachineCmd),
    /// Manufacturer keys that attest devices.
    #[command(subcommand)]
    Manufacturer(ManufacturerCmd),
}

/// `machina query machine` and `machina query machines`.
#[derive(Subcommand)]
pub enum IdentityQuery {
    /// A machine: identity, status, account and reputation.
    Machine {
        /// Machine id.
        id: u64,
    },
    /// The machines of an owner, one page at a time.
    Machines {
        /// Owner: address or key name.
        #[arg(long)]
        owner: String,
        /// First position to list.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// How many (at most 100).
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
}

/// Runs an identity `tx` subcommand.
pub fn run_tx(host: &impl TxHost<IdentityAction>, cmd: IdentityTx) -> anyhow::Result<()> {
    match cmd {
        IdentityTx::Machine(cmd) => run_machine(host, cmd),
        IdentityTx::Manufacturer(ManufacturerCmd::Register { from, key, name }) => {
            let owner = host.sender_address(&host.key(&from)?)?;
            let chain_id = host.chain_id()?;
            let mk = host.key(&key)?;
            let action = IdentityAction::RegisterManufacturer {
                name,
                public_key: mk.public(),
                signature: mk.sign(&manufacturer_pop_message(chain_id, &owner)),
            };
            host.print_receipt(&host.send_from(&from, vec![action])?.1);
            Ok(())
        }
    }
}

/// Runs an identity `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: IdentityQuery) -> anyhow::Result<()> {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
    match cmd {
        IdentityQuery::Machine { id } => {
            let v = host.get(&format!("/v1/machine/{id}"))?;
            host.print(&v, &|| {
                format!(
                    "machine {}  {}  {}\n  owner     {}\n  account   {}\n  device    {}\n  rated     {} W{}\n  zone      {}\n  reputation {}",
                    v["machine_id"], s(&v["kind"]), s(&v["status"]), s(&v["owner"]), s(&v["address"]),
                    s(&v["device_key"]), v["rated_power_w"],
                    v["capacity_wh"].as_u64().map(|c| format!(", {c} Wh")).unwrap_or_default(),
                    v["zone"].as_str().unwrap_or("-"), v["reputation"]
                )
            });
        }
        IdentityQuery::Machines {
            owner,
            offset,
            limit,
        } => {
            let owner = host.address_of(&owner)?;
            let v = host.get(&format!(
                "/v1/machines?owner={owner}&offset={offset}&limit={limit}"
            ))?;
            host.print(&v, &|| {
                let mut out = format!("{} machines of {owner}", v["total"]);
                for m in v["machines"].as_array().into_iter().flatten() {
                    out += &format!(
                        "\n  {:>6}  {:<10} {:<8} {}",
                        m["machine_id"],
                        s(&m["kind"]),
                        s(&m["status"]),
                        s(&m["address"])
                    );
                }
                out
            });
        }
    }
    Ok(())
}

/// Descriptive metadata flags of a machine.
#[derive(Args)]
pub struct MetadataArgs {
    /// Manufacturer's name.
    #[arg(long)]
    manufacturer: Option<String>,
    /// Model.
    #[arg(long)]
    model: Option<String>,
    /// Serial number.
    #[arg(long)]
    serial: Option<String>,
    /// A free `key=value` pair (repeatable).
    #[arg(long = "meta")]
    meta: Vec<String>,
}

impl MetadataArgs {
    fn build(&self) -> anyhow::Result<MachineMetadata> {
        let extra = self
            .meta
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .with_context(|| format!("--meta takes key=value, got {kv}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(MachineMetadata {
            manufacturer: self.manufacturer.clone().unwrap_or_default(),
            model: self.model.clone().unwrap_or_default(),
            serial: self.serial.clone().unwrap_or_default(),
            extra,
        })
    }
}

/// `machina tx machine ...`.
#[derive(Subcommand)]
pub enum MachineCmd {
    /// Register a machine: the owner signs the transaction, the device proves possession.
    Register {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// Key name of the device key.
        #[arg(long)]
        device: String,
        /// solar, battery, ev_charger, meter, compute, sensor or other.
        #[arg(long)]
        kind: MachineKind,
        /// Rated power in W.
        #[arg(long)]
        rated_power_w: u64,
        /// Storage capacity in Wh (batteries).
        #[arg(long)]
        capacity_wh: Option<u64>,
        /// Energy zone.
        #[arg(long)]
        zone: Option<String>,
        /// Key name of a registered manufacturer key that attests the device key.
        #[arg(long)]
        attest_by: Option<String>,
        /// Descriptive metadata.
        #[command(flatten)]
        metadata: MetadataArgs,
    },
    /// Replace the device key; the old key is refused at once.
    RotateKey {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Key name of the new device key.
        #[arg(long)]
        new_device: String,
    },
    /// Revoke a machine for good.
    Revoke {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
    },
    /// Give a machine to a new owner.
    TransferOwner {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The new owner: address or key name.
        #[arg(long)]
        to: String,
    },
    /// Replace a machine's metadata.
    SetMetadata {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Descriptive metadata.
        #[command(flatten)]
        metadata: MetadataArgs,
    },
    /// Move a machine to a zone (or out of any, without `--zone`).
    SetZone {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The zone.
        #[arg(long)]
        zone: Option<String>,
    },
}

/// `machina tx manufacturer ...`.
#[derive(Subcommand)]
pub enum ManufacturerCmd {
    /// Register a manufacturer key (it proves possession) so it can attest devices.
    Register {
        /// Key name of the registrant (pays the fee).
        #[arg(long)]
        from: String,
        /// Key name of the manufacturer key.
        #[arg(long)]
        key: String,
        /// The manufacturer's name.
        #[arg(long)]
        name: String,
    },
}

fn run_machine(host: &impl TxHost<IdentityAction>, cmd: MachineCmd) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        MachineCmd::Register {
            from,
            device,
            kind,
            rated_power_w,
            capacity_wh,
            zone,
            attest_by,
            metadata,
        } => {
            if let Some(z) = &zone {
                // Refused here, before any fee: a machine's zone must exist.
                if let Err(e) = host.get(&format!("/v1/energy/zone/{z}")) {
                    anyhow::bail!("zone {z:?} does not exist (create it with `machina tx energy create-zone`): {e}");
                }
            }
            let owner = host.sender_address(&host.key(&from)?)?;
            let chain_id = host.chain_id()?;
            let dk = host.key(&device)?;
            let attestation = attest_by
                .map(|m| -> anyhow::Result<Attestation> {
                    let mk = host.key(&m)?;
                    Ok(Attestation {
                        manufacturer_key: mk.public(),
                        signature: mk.sign(&attestation_message(&dk.public())),
                    })
                })
                .transpose()?;
            let reg = MachineRegistration {
                device_key: dk.public(),
                device_signature: dk.sign(&device_pop_message(chain_id, &owner)),
                kind,
                rated_power_w,
                capacity_wh,
                zone,
                metadata: metadata.build()?,
                attestation,
            };
            let (_, rec) =
                host.send_from(&from, vec![IdentityAction::RegisterMachine(Box::new(reg))])?;
            let id = attr_u64(event_attr(&rec, "machine_registered", "machine_id"))
                .context("receipt names the machine id")?;
            let address =
                attr_text(event_attr(&rec, "machine_registered", "address")).unwrap_or_default();
            let out = json!({"machine_id": id, "address": address, "tx_hash": rec["tx_hash"]});
            host.print(&out, &|| {
                format!("machine {id} registered, account {address}")
            });
            return Ok(());
        }
        MachineCmd::RotateKey {
            from,
            machine,
            new_device,
        } => {
            let owner = host.sender_address(&host.key(&from)?)?;
            let chain_id = host.chain_id()?;
            let nk = host.key(&new_device)?;
            let action = IdentityAction::RotateDeviceKey {
                machine_id: machine,
                new_key: nk.public(),
                signature: nk.sign(&device_pop_message(chain_id, &owner)),
            };
            (from, action)
        }
        MachineCmd::Revoke { from, machine } => (
            from,
            IdentityAction::RevokeMachine {
                machine_id: machine,
            },
        ),
        MachineCmd::TransferOwner { from, machine, to } => {
            let new_owner = host.address_of(&to)?;
            (
                from,
                IdentityAction::TransferMachine {
                    machine_id: machine,
                    new_owner,
                },
            )
        }
        MachineCmd::SetMetadata {
            from,
            machine,
            metadata,
        } => {
            let metadata = metadata.build()?;
            (
                from,
                IdentityAction::SetMachineMetadata {
                    machine_id: machine,
                    metadata,
                },
            )
        }
        MachineCmd::SetZone {
            from,
            machine,
            zone,
        } => (
            from,
            IdentityAction::SetMachineZone {
                machine_id: machine,
                zone,
            },
        ),
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

//! `machina tx`: build, sign, submit a transaction and wait for its receipt.

use crate::client::{Client, NodeError};
use crate::keystore::Keystore;
use crate::print;
use anyhow::Context;
use clap::{Args, Subcommand};
use machina_primitives::action::{
    device_pop_message, manufacturer_pop_message, Attestation, MachineKind, MachineMetadata,
    MachineRegistration, SpendPolicy,
};
use machina_primitives::{Action, Address, Amount, Keypair, TxBody};
use serde_json::{json, Value};
use std::time::Duration;

/// How many blocks a transaction signed by the CLI stays valid.
const TX_EXPIRY_BLOCKS: u64 = 600;

/// How long the CLI waits for a receipt.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// `machina tx ...`.
#[derive(Args)]
pub struct TxArgs {
    #[command(flatten)]
    opts: TxOpts,
    #[command(subcommand)]
    cmd: TxCmd,
}

/// Options every transaction takes.
#[derive(Args)]
struct TxOpts {
    /// The node's HTTP API.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:8645",
        env = "MACHINA_NODE"
    )]
    node: String,
    /// Fee in micro-units.
    #[arg(long, global = true, default_value_t = machina_stf::params::DEFAULT_MIN_FEE.0)]
    fee: u128,
    /// An account (address or key name) that pays the fee under a fee allowance it granted.
    #[arg(long, global = true)]
    fee_payer: Option<String>,
    /// Send as this multisig account; `--from` and each `--co-signer` sign.
    #[arg(long, global = true)]
    multisig: Option<String>,
    /// Another member key signing for `--multisig`.
    #[arg(long = "co-signer", global = true)]
    co_signers: Vec<String>,
}

#[derive(Subcommand)]
enum TxCmd {
    /// Transfer micro-units to an address.
    Transfer {
        /// Key name of the signer (the sender, or a machine's device or session key).
        #[arg(long)]
        from: String,
        /// Recipient: an address, or a key name.
        #[arg(long)]
        to: String,
        /// Micro-units to send.
        #[arg(long, value_parser = crate::amount_arg::parse_amount)]
        amount: Amount,
        /// Spend from this machine's account, signed by its device key or a session key.
        #[arg(long)]
        machine: Option<u64>,
    },
    /// Machine identities.
    #[command(subcommand)]
    Machine(MachineCmd),
    /// Machine wallets: policy, freeze, sweep.
    #[command(subcommand)]
    Wallet(WalletCmd),
    /// Session keys on a machine's account.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Multisig accounts.
    #[command(subcommand)]
    Multisig(MultisigCmd),
    /// Fee sponsorship.
    #[command(subcommand)]
    Sponsor(SponsorCmd),
    /// Manufacturer keys that attest devices.
    #[command(subcommand)]
    Manufacturer(ManufacturerCmd),
    /// Device-signed meter readings.
    #[command(subcommand)]
    Meter(MeterCmd),
    /// Data feeds from bonded reporters.
    #[command(subcommand)]
    Feed(FeedCmd),
    /// The peer-to-peer energy market.
    #[command(subcommand)]
    Energy(EnergyTxCmd),
}

#[derive(Subcommand)]
enum EnergyTxCmd {
    /// Create a zone (a neighbourhood behind one transformer).
    CreateZone {
        /// Key name of the creator (funds the grid account).
        #[arg(long)]
        from: String,
        /// Zone name; machines name it as their zone.
        #[arg(long)]
        name: String,
        /// Delivery interval, ms.
        #[arg(long, default_value_t = 900_000)]
        interval_ms: u64,
        /// Orders close this long before their interval starts, ms.
        #[arg(long, default_value_t = 60_000)]
        gate_closure_ms: u64,
        /// Grid retail price, micro-units per kWh (no bid above).
        #[arg(long)]
        retail_price: u64,
        /// Grid feed-in tariff, micro-units per kWh (no ask below).
        #[arg(long)]
        feed_in_price: u64,
        /// Market fee on sellers' revenue, basis points.
        #[arg(long, default_value_t = 0)]
        market_fee_bps: u32,
        /// pay-as-clear or pay-as-bid.
        #[arg(long, default_value = "pay-as-clear")]
        rule: String,
        /// Pay-as-clear position between p_low (0) and p_high (1).
        #[arg(long, default_value_t = 0.5)]
        k: f64,
        /// Transformer import limit, W.
        #[arg(long)]
        import_limit_w: u64,
        /// Transformer export limit, W.
        #[arg(long)]
        export_limit_w: u64,
        /// Settlement waits at most this long after an interval for readings, ms.
        #[arg(long, default_value_t = 600_000)]
        settlement_deadline_ms: u64,
        /// Micro-units moved into the zone's grid account (pays feed-in credits; at least
        /// 100 tokens).
        #[arg(long, default_value_t = machina_energy::market::MIN_GRID_FLOAT.0)]
        grid_float: u128,
    },
    /// Buy up to `--qty-wh` at most at `--price` for an interval.
    Bid(OrderArgs),
    /// Sell up to `--qty-wh` at least at `--price` for an interval.
    Ask(OrderArgs),
    /// Cancel an order before its gate closes.
    Cancel {
        /// Key name of the machine's device key or its owner.
        #[arg(long)]
        from: String,
        /// The zone.
        #[arg(long)]
        zone: String,
        /// The order.
        #[arg(long)]
        order: u64,
    },
}

#[derive(clap::Args)]
struct OrderArgs {
    /// Key name of the machine's owner (or of its device key, with the machine as sender).
    #[arg(long)]
    from: String,
    /// The machine.
    #[arg(long)]
    machine: u64,
    /// Start of the delivery interval, ms (default: the next interval whose gate is open).
    #[arg(long)]
    interval_start_ms: Option<u64>,
    /// Limit price, micro-units per kWh.
    #[arg(long)]
    price: u64,
    /// Quantity, Wh.
    #[arg(long)]
    qty_wh: u64,
    /// Send as the machine (signed by `--from`, its device key) rather than as its owner.
    #[arg(long)]
    as_machine: bool,
}

#[derive(Subcommand)]
enum MeterCmd {
    /// Sign a reading with the device key and submit it.
    Reading {
        /// Key name of the device key (signs the reading).
        #[arg(long)]
        device: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Meter channel.
        #[arg(long, default_value_t = 0)]
        channel: u16,
        /// Sequence number (strictly increasing).
        #[arg(long)]
        seq: u64,
        /// Cumulative import, Wh.
        #[arg(long)]
        import_wh: u64,
        /// Cumulative export, Wh.
        #[arg(long)]
        export_wh: u64,
        /// Measurement time (default: now).
        #[arg(long)]
        timestamp_ms: Option<u64>,
        /// Key name of the account that submits and pays (default: the machine's account,
        /// signed by the device key; with `--fee-payer`, a sponsor pays).
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(Subcommand)]
enum FeedCmd {
    /// Create a feed with its reporters and rules.
    Create {
        /// Key name of the creator (pays the fee).
        #[arg(long)]
        from: String,
        /// Feed name, e.g. grid.retail_price.zone-a.
        #[arg(long)]
        name: String,
        /// Reporters: addresses or key names (repeatable).
        #[arg(long = "reporter", required = true)]
        reporters: Vec<String>,
        /// Bond each reporter posts, micro-units.
        #[arg(long)]
        bond: u128,
        /// Reports needed to set a value.
        #[arg(long)]
        quorum: u16,
        /// Reports needed to move the value past `--max-change-bps` (default: all reporters).
        #[arg(long)]
        super_quorum: Option<u16>,
        /// Most a round may move the value, basis points.
        #[arg(long, default_value_t = 1000)]
        max_change_bps: u32,
        /// The value is stale after this long without a round.
        #[arg(long, default_value_t = 3_600_000)]
        stale_after_ms: u64,
    },
    /// Post your bond as a reporter.
    Bond {
        /// Key name of the reporter.
        #[arg(long)]
        from: String,
        /// Feed name.
        #[arg(long)]
        name: String,
    },
    /// Sign and submit a value for a round.
    Report {
        /// Key name of the reporter.
        #[arg(long)]
        from: String,
        /// Feed name.
        #[arg(long)]
        name: String,
        /// Round (default: the open round).
        #[arg(long)]
        round: Option<u64>,
        /// The value.
        #[arg(long, allow_hyphen_values = true)]
        value: i64,
    },
    /// Sign a value for a round and print the signed report, without submitting it.
    SignReport {
        /// Key name of the reporter.
        #[arg(long)]
        from: String,
        /// Feed name.
        #[arg(long)]
        name: String,
        /// Round.
        #[arg(long)]
        round: u64,
        /// The value.
        #[arg(long, allow_hyphen_values = true)]
        value: i64,
    },
    /// Prove that a reporter signed two values for one round; its bond is forfeited, half to you.
    ProveEquivocation {
        /// Key name of the prover.
        #[arg(long)]
        from: String,
        /// Two signed report files (JSON, as `sign-report` prints them).
        #[arg(long = "report", num_args = 2, required = true)]
        reports: Vec<std::path::PathBuf>,
    },
}

#[derive(Args)]
struct MetadataArgs {
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

#[derive(Subcommand)]
enum MachineCmd {
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

#[derive(Subcommand)]
enum WalletCmd {
    /// Set the machine's spending policy (replaces the previous one).
    SetPolicy {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// Most micro-units one transaction may move out.
        #[arg(long)]
        max_per_tx: Option<u128>,
        /// Most micro-units, fees included, within any `--window-blocks` blocks.
        #[arg(long, requires = "window_blocks")]
        max_per_window: Option<u128>,
        /// Length of the rolling window in blocks.
        #[arg(long)]
        window_blocks: Option<u64>,
        /// Only these counterparties may receive value (addresses or key names).
        #[arg(long = "allow", num_args = 1..)]
        allow: Vec<String>,
        /// Blocks of cooldown after a spend above `--cooldown-above`.
        #[arg(long, requires = "cooldown_above")]
        cooldown_blocks: Option<u64>,
        /// A spend above this starts a cooldown.
        #[arg(long, requires = "cooldown_blocks")]
        cooldown_above: Option<u128>,
    },
    /// Freeze the wallet: nothing leaves it.
    Freeze(OwnerMachine),
    /// Unfreeze the wallet.
    Unfreeze(OwnerMachine),
    /// Move the machine's whole balance to its owner.
    Sweep(OwnerMachine),
}

#[derive(Args)]
struct OwnerMachine {
    /// Key name of the owner.
    #[arg(long)]
    from: String,
    /// The machine.
    #[arg(long)]
    machine: u64,
}

#[derive(Subcommand)]
enum SessionCmd {
    /// Let a key act for the machine within limits.
    Grant {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The session key: key name or public key hex.
        #[arg(long)]
        key: String,
        /// Actions it may use, comma separated (e.g. `transfer`).
        #[arg(long, value_delimiter = ',', required = true)]
        actions: Vec<String>,
        /// Most micro-units, fees included, it may move out.
        #[arg(long)]
        spend_cap: u128,
        /// Last height it is valid at.
        #[arg(long)]
        expiry_height: u64,
    },
    /// Withdraw a session key.
    Revoke {
        /// Key name of the owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The session key: key name or public key hex.
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum MultisigCmd {
    /// Create an M-of-N multisig account; prints its address.
    Create {
        /// Key name of the creator (pays the fee).
        #[arg(long)]
        from: String,
        /// Member keys: key names or public key hex (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// Signatures needed.
        #[arg(long)]
        threshold: u8,
    },
    /// Change the members of the `--multisig` account (needs its threshold of signatures).
    Update {
        /// Key name of one signing member.
        #[arg(long)]
        from: String,
        /// New member keys (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        /// New threshold.
        #[arg(long)]
        threshold: u8,
    },
}

#[derive(Subcommand)]
enum SponsorCmd {
    /// Pay the fees of `--grantee` up to `--cap` until `--expiry-height`.
    Grant {
        /// Key name of the sponsor.
        #[arg(long)]
        from: String,
        /// The sponsored account: address or key name.
        #[arg(long)]
        grantee: String,
        /// Most micro-units of fees in total.
        #[arg(long)]
        cap: u128,
        /// Last height it is valid at.
        #[arg(long)]
        expiry_height: u64,
    },
    /// Withdraw a fee allowance.
    Revoke {
        /// Key name of the sponsor.
        #[arg(long)]
        from: String,
        /// The sponsored account: address or key name.
        #[arg(long)]
        grantee: String,
    },
}

#[derive(Subcommand)]
enum ManufacturerCmd {
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

/// Signs and sends transactions for one command.
struct Sender<'a> {
    client: Client,
    ks: &'a Keystore,
    opts: &'a TxOpts,
}

impl Sender<'_> {
    /// The account a transaction from `signer` is sent as.
    fn sender_address(&self, signer: &Keypair) -> anyhow::Result<Address> {
        match &self.opts.multisig {
            Some(m) => self.ks.address_of(m),
            None => Ok(signer.address()),
        }
    }

    fn chain(&self) -> anyhow::Result<(u64, u64)> {
        let health = self.client.get("/v1/health")?;
        Ok((
            health["chain_id"].as_u64().context("health has chain_id")?,
            health["height"].as_u64().context("health has height")?,
        ))
    }

    /// Signs `actions` as `sender` with `signer` (and any co-signers), submits, waits for the
    /// receipt, and fails with the receipt's code if the actions failed.
    fn send(
        &self,
        signer: &Keypair,
        sender: Address,
        actions: Vec<Action>,
    ) -> anyhow::Result<Value> {
        let (chain_id, height) = self.chain()?;
        let account = self.client.get(&format!("/v1/account/{sender}"))?;
        let fee_payer = self
            .opts
            .fee_payer
            .as_deref()
            .map(|p| self.ks.address_of(p))
            .transpose()?;
        let mut keys = vec![signer.clone()];
        for c in &self.opts.co_signers {
            keys.push(self.ks.get(c)?);
        }
        let key_refs: Vec<&Keypair> = keys.iter().collect();
        let tx = TxBody {
            chain_id,
            sender,
            nonce: account["nonce"].as_u64().context("account has nonce")?,
            fee: Amount(self.opts.fee),
            expiry_height: height + TX_EXPIRY_BLOCKS,
            fee_payer,
            actions,
        }
        .sign(&key_refs);
        let hash = self.client.submit(&tx)?;
        let rec = self.client.wait_for_tx(&hash, RECEIPT_TIMEOUT)?;
        let receipt = &rec["receipt"];
        if receipt["success"] != true {
            return Err(NodeError {
                code: receipt["error"]["code"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_owned(),
                message: receipt["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            }
            .into());
        }
        Ok(rec)
    }

    /// [`Sender::send`] as the default sender of `from`.
    fn send_from(&self, from: &str, actions: Vec<Action>) -> anyhow::Result<(Keypair, Value)> {
        let key = self.ks.get(from)?;
        let sender = self.sender_address(&key)?;
        let rec = self.send(&key, sender, actions)?;
        Ok((key, rec))
    }

    fn machine_address(&self, id: u64) -> anyhow::Result<Address> {
        let m = self.client.get(&format!("/v1/machine/{id}"))?;
        m["address"]
            .as_str()
            .and_then(Address::from_hex)
            .context("machine has an address")
    }
}

/// The value of attribute `key` in the first event of `kind` in a receipt.
fn event_attr<'v>(rec: &'v Value, kind: &str, key: &str) -> Option<&'v str> {
    rec["receipt"]["events"]
        .as_array()?
        .iter()
        .find(|e| e["kind"] == kind)?["attrs"][key]
        .as_str()
}

fn print_receipt(json: bool, rec: &Value) {
    print(json, rec, || {
        let r = &rec["receipt"];
        let mut s = format!(
            "tx {}\n  height {}  fee {} micro  {}",
            rec["hash"].as_str().unwrap_or("?"),
            rec["height"],
            r["fee_charged"].as_str().unwrap_or("?"),
            if r["success"] == true {
                "success"
            } else {
                "failed"
            }
        );
        for e in r["events"].as_array().into_iter().flatten().skip(1) {
            s += &format!(
                "\n  {}.{} {}",
                e["module"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or(""),
                e["attrs"]
            );
        }
        s
    });
}

/// Runs `machina tx ...`.
pub fn run(args: TxArgs, ks: &Keystore, json: bool) -> anyhow::Result<()> {
    let s = Sender {
        client: Client::new(&args.opts.node),
        ks,
        opts: &args.opts,
    };
    match args.cmd {
        TxCmd::Transfer {
            from,
            to,
            amount,
            machine,
        } => {
            let to = ks.address_of(&to)?;
            let key = ks.get(&from)?;
            let sender = match machine {
                Some(id) => s.machine_address(id)?,
                None => s.sender_address(&key)?,
            };
            let rec = s.send(&key, sender, vec![Action::Transfer { to, amount }])?;
            print_receipt(json, &rec);
        }
        TxCmd::Machine(cmd) => run_machine(&s, cmd, json)?,
        TxCmd::Wallet(cmd) => run_wallet(&s, cmd, json)?,
        TxCmd::Session(cmd) => run_session(&s, cmd, json)?,
        TxCmd::Multisig(cmd) => run_multisig(&s, cmd, json)?,
        TxCmd::Sponsor(cmd) => run_sponsor(&s, cmd, json)?,
        TxCmd::Meter(cmd) => run_meter(&s, cmd, json)?,
        TxCmd::Feed(cmd) => run_feed(&s, cmd, json)?,
        TxCmd::Energy(cmd) => run_energy(&s, cmd, json)?,
        TxCmd::Manufacturer(ManufacturerCmd::Register { from, key, name }) => {
            let owner = s.sender_address(&ks.get(&from)?)?;
            let (chain_id, _) = s.chain()?;
            let mk = ks.get(&key)?;
            let action = Action::RegisterManufacturer {
                name,
                public_key: mk.public(),
                signature: mk.sign(&manufacturer_pop_message(chain_id, &owner)),
            };
            print_receipt(json, &s.send_from(&from, vec![action])?.1);
        }
    }
    Ok(())
}

fn run_machine(s: &Sender<'_>, cmd: MachineCmd, json: bool) -> anyhow::Result<()> {
    let ks = s.ks;
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
            let owner = s.sender_address(&ks.get(&from)?)?;
            let (chain_id, _) = s.chain()?;
            let dk = ks.get(&device)?;
            let attestation = attest_by
                .map(|m| -> anyhow::Result<Attestation> {
                    let mk = ks.get(&m)?;
                    Ok(Attestation {
                        manufacturer_key: mk.public(),
                        signature: mk.sign(&machina_primitives::action::attestation_message(
                            &dk.public(),
                        )),
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
            let (_, rec) = s.send_from(&from, vec![Action::RegisterMachine(Box::new(reg))])?;
            let id: u64 = event_attr(&rec, "machine_registered", "machine_id")
                .and_then(|v| v.parse().ok())
                .context("receipt names the machine id")?;
            let address = event_attr(&rec, "machine_registered", "address").unwrap_or_default();
            let out = json!({"machine_id": id, "address": address, "tx": rec["hash"]});
            print(json, &out, || {
                format!("machine {id} registered, account {address}")
            });
            return Ok(());
        }
        MachineCmd::RotateKey {
            from,
            machine,
            new_device,
        } => {
            let owner = s.sender_address(&ks.get(&from)?)?;
            let (chain_id, _) = s.chain()?;
            let nk = ks.get(&new_device)?;
            let action = Action::RotateDeviceKey {
                machine_id: machine,
                new_key: nk.public(),
                signature: nk.sign(&device_pop_message(chain_id, &owner)),
            };
            (from, action)
        }
        MachineCmd::Revoke { from, machine } => (
            from,
            Action::RevokeMachine {
                machine_id: machine,
            },
        ),
        MachineCmd::TransferOwner { from, machine, to } => {
            let new_owner = ks.address_of(&to)?;
            (
                from,
                Action::TransferMachine {
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
                Action::SetMachineMetadata {
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
            Action::SetMachineZone {
                machine_id: machine,
                zone,
            },
        ),
    };
    print_receipt(json, &s.send_from(&from, vec![action])?.1);
    Ok(())
}

fn run_wallet(s: &Sender<'_>, cmd: WalletCmd, json: bool) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        WalletCmd::SetPolicy {
            from,
            machine,
            max_per_tx,
            max_per_window,
            window_blocks,
            allow,
            cooldown_blocks,
            cooldown_above,
        } => {
            let allowlist = allow
                .iter()
                .map(|a| s.ks.address_of(a))
                .collect::<anyhow::Result<_>>()?;
            let policy = SpendPolicy {
                max_per_tx: max_per_tx.map(Amount),
                max_per_window: max_per_window.map(Amount),
                window_blocks: window_blocks.unwrap_or(0),
                allowlist,
                cooldown_blocks: cooldown_blocks.unwrap_or(0),
                cooldown_above: cooldown_above.map(Amount),
            };
            (
                from,
                Action::SetSpendPolicy {
                    machine_id: machine,
                    policy,
                },
            )
        }
        WalletCmd::Freeze(o) => (
            o.from,
            Action::SetWalletFrozen {
                machine_id: o.machine,
                frozen: true,
            },
        ),
        WalletCmd::Unfreeze(o) => (
            o.from,
            Action::SetWalletFrozen {
                machine_id: o.machine,
                frozen: false,
            },
        ),
        WalletCmd::Sweep(o) => (
            o.from,
            Action::SweepMachine {
                machine_id: o.machine,
            },
        ),
    };
    print_receipt(json, &s.send_from(&from, vec![action])?.1);
    Ok(())
}

fn run_session(s: &Sender<'_>, cmd: SessionCmd, json: bool) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        SessionCmd::Grant {
            from,
            machine,
            key,
            actions,
            spend_cap,
            expiry_height,
        } => {
            let key = s.ks.public_key_of(&key)?;
            let action = Action::GrantSession {
                machine_id: machine,
                key,
                actions,
                spend_cap: Amount(spend_cap),
                expiry_height,
            };
            (from, action)
        }
        SessionCmd::Revoke { from, machine, key } => {
            let key = s.ks.public_key_of(&key)?;
            (
                from,
                Action::RevokeSession {
                    machine_id: machine,
                    key,
                },
            )
        }
    };
    print_receipt(json, &s.send_from(&from, vec![action])?.1);
    Ok(())
}

fn run_multisig(s: &Sender<'_>, cmd: MultisigCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        MultisigCmd::Create {
            from,
            members,
            threshold,
        } => {
            let members = members
                .iter()
                .map(|m| s.ks.public_key_of(m))
                .collect::<anyhow::Result<_>>()?;
            let (_, rec) =
                s.send_from(&from, vec![Action::CreateMultisig { members, threshold }])?;
            let address = event_attr(&rec, "multisig_created", "address")
                .context("receipt names the address")?;
            let out = json!({"address": address, "threshold": threshold, "tx": rec["hash"]});
            print(json, &out, || format!("multisig account {address}"));
        }
        MultisigCmd::Update {
            from,
            members,
            threshold,
        } => {
            if s.opts.multisig.is_none() {
                anyhow::bail!("--multisig ADDR names the account to update");
            }
            let members = members
                .iter()
                .map(|m| s.ks.public_key_of(m))
                .collect::<anyhow::Result<_>>()?;
            print_receipt(
                json,
                &s.send_from(&from, vec![Action::UpdateMultisig { members, threshold }])?
                    .1,
            );
        }
    }
    Ok(())
}

fn run_sponsor(s: &Sender<'_>, cmd: SponsorCmd, json: bool) -> anyhow::Result<()> {
    let (from, action) = match cmd {
        SponsorCmd::Grant {
            from,
            grantee,
            cap,
            expiry_height,
        } => {
            let grantee = s.ks.address_of(&grantee)?;
            (
                from,
                Action::GrantFeeAllowance {
                    grantee,
                    cap: Amount(cap),
                    expiry_height,
                },
            )
        }
        SponsorCmd::Revoke { from, grantee } => {
            let grantee = s.ks.address_of(&grantee)?;
            (from, Action::RevokeFeeAllowance { grantee })
        }
    };
    print_receipt(json, &s.send_from(&from, vec![action])?.1);
    Ok(())
}

/// Fails with the code of the first item a batch action refused (readings, reports).
fn fail_on_rejection(rec: &Value) -> anyhow::Result<()> {
    if let (Some(code), Some(message)) = (
        event_attr(rec, "rejected", "code"),
        event_attr(rec, "rejected", "message"),
    ) {
        return Err(NodeError {
            code: code.to_owned(),
            message: message.to_owned(),
        }
        .into());
    }
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn run_meter(s: &Sender<'_>, cmd: MeterCmd, json: bool) -> anyhow::Result<()> {
    let MeterCmd::Reading {
        device,
        machine,
        channel,
        seq,
        import_wh,
        export_wh,
        timestamp_ms,
        from,
    } = cmd;
    let (chain_id, _) = s.chain()?;
    let dk = s.ks.get(&device)?;
    let reading = machina_primitives::action::MeterReading {
        machine_id: machine,
        channel,
        seq,
        timestamp_ms: timestamp_ms.unwrap_or_else(now_ms),
        import_wh,
        export_wh,
    }
    .sign(chain_id, &dk);
    let action = Action::SubmitReadings {
        readings: vec![reading],
    };
    let rec = match from {
        Some(payer) => s.send_from(&payer, vec![action])?.1,
        None => s.send(&dk, s.machine_address(machine)?, vec![action])?,
    };
    print_receipt(json, &rec);
    fail_on_rejection(&rec)
}

fn run_feed(s: &Sender<'_>, cmd: FeedCmd, json: bool) -> anyhow::Result<()> {
    let ks = s.ks;
    let (from, action) = match cmd {
        FeedCmd::Create {
            from,
            name,
            reporters,
            bond,
            quorum,
            super_quorum,
            max_change_bps,
            stale_after_ms,
        } => {
            let reporters: Vec<Address> = reporters
                .iter()
                .map(|r| ks.address_of(r))
                .collect::<anyhow::Result<_>>()?;
            let config = machina_primitives::action::FeedConfig {
                name,
                super_quorum: super_quorum.unwrap_or(reporters.len() as u16),
                reporters,
                bond: Amount(bond),
                quorum,
                max_change_bps,
                stale_after_ms,
            };
            (from, Action::CreateFeed(Box::new(config)))
        }
        FeedCmd::Bond { from, name } => (from, Action::BondFeed { feed: name }),
        FeedCmd::Report {
            from,
            name,
            round,
            value,
        } => {
            let (chain_id, _) = s.chain()?;
            let round = match round {
                Some(r) => r,
                None => s.client.get(&format!("/v1/feed/{name}"))?["open_round"]
                    .as_u64()
                    .context("feed has an open round")?,
            };
            let report = machina_primitives::action::FeedReport::sign(
                chain_id,
                &name,
                round,
                value,
                &ks.get(&from)?,
            );
            let (_, rec) = s.send_from(
                &from,
                vec![Action::ReportFeed {
                    reports: vec![report],
                }],
            )?;
            print_receipt(json, &rec);
            return fail_on_rejection(&rec);
        }
        FeedCmd::SignReport {
            from,
            name,
            round,
            value,
        } => {
            let (chain_id, _) = s.chain()?;
            let report = machina_primitives::action::FeedReport::sign(
                chain_id,
                &name,
                round,
                value,
                &ks.get(&from)?,
            );
            println!("{}", serde_json::to_string(&report)?);
            return Ok(());
        }
        FeedCmd::ProveEquivocation { from, reports } => {
            let read =
                |p: &std::path::PathBuf| -> anyhow::Result<machina_primitives::action::FeedReport> {
                    let bytes =
                        std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                    serde_json::from_slice(&bytes)
                        .with_context(|| format!("{} is not a signed report", p.display()))
                };
            (
                from,
                Action::ProveEquivocation {
                    a: read(&reports[0])?,
                    b: read(&reports[1])?,
                },
            )
        }
    };
    print_receipt(json, &s.send_from(&from, vec![action])?.1);
    Ok(())
}

fn next_interval(s: &Sender<'_>, machine: u64) -> anyhow::Result<u64> {
    let m = s.client.get(&format!("/v1/machine/{machine}"))?;
    let zone = m["zone"]
        .as_str()
        .context("the machine belongs to no zone")?;
    let z = s.client.get(&format!("/v1/energy/zone/{zone}"))?;
    let interval = z["zone"]["config"]["interval_ms"]
        .as_u64()
        .context("zone interval")?;
    let gate = z["zone"]["config"]["gate_closure_ms"]
        .as_u64()
        .context("zone gate closure")?;
    let now = now_ms().max(
        s.client.get("/v1/block/latest")?["timestamp_ms"]
            .as_u64()
            .unwrap_or(0),
    );
    // Leave a few seconds for the transaction to be included before the gate closes.
    let earliest = now + gate + 5_000;
    Ok(earliest.div_ceil(interval) * interval)
}

fn run_energy(s: &Sender<'_>, cmd: EnergyTxCmd, json: bool) -> anyhow::Result<()> {
    use machina_primitives::action::{MarketRule, Side, ZoneConfig};
    let place = |side: Side, a: OrderArgs| -> anyhow::Result<()> {
        let start = match a.interval_start_ms {
            Some(t) => t,
            None => next_interval(s, a.machine)?,
        };
        let action = Action::PlaceOrder {
            machine_id: a.machine,
            side,
            interval_start_ms: start,
            price: a.price,
            qty_wh: a.qty_wh,
        };
        let rec = if a.as_machine {
            s.send(
                &s.ks.get(&a.from)?,
                s.machine_address(a.machine)?,
                vec![action],
            )?
        } else {
            s.send_from(&a.from, vec![action])?.1
        };
        let id = event_attr(&rec, "order_placed", "order_id")
            .unwrap_or("?")
            .to_owned();
        let out = json!({"order_id": id.parse::<u64>().ok(), "interval_start_ms": start, "tx": rec["hash"]});
        print(json, &out, || {
            format!("order {id} for the interval starting at {start} ms")
        });
        Ok(())
    };
    match cmd {
        EnergyTxCmd::Bid(a) => place(Side::Bid, a),
        EnergyTxCmd::Ask(a) => place(Side::Ask, a),
        EnergyTxCmd::Cancel { from, zone, order } => {
            print_receipt(
                json,
                &s.send_from(
                    &from,
                    vec![Action::CancelOrder {
                        zone,
                        order_id: order,
                    }],
                )?
                .1,
            );
            Ok(())
        }
        EnergyTxCmd::CreateZone {
            from,
            name,
            interval_ms,
            gate_closure_ms,
            retail_price,
            feed_in_price,
            market_fee_bps,
            rule,
            k,
            import_limit_w,
            export_limit_w,
            settlement_deadline_ms,
            grid_float,
        } => {
            let rule = match rule.as_str() {
                "pay-as-clear" if (0.0..=1.0).contains(&k) => MarketRule::PayAsClear {
                    k_ppm: (k * 1e6).round() as u32,
                },
                "pay-as-clear" => anyhow::bail!("--k is between 0 and 1"),
                "pay-as-bid" => MarketRule::PayAsBid,
                other => anyhow::bail!("unknown rule {other}: pay-as-clear or pay-as-bid"),
            };
            let config = ZoneConfig {
                name,
                interval_ms,
                gate_closure_ms,
                retail_price,
                feed_in_price,
                market_fee_bps,
                rule,
                import_limit_w,
                export_limit_w,
                settlement_deadline_ms,
            };
            let action = Action::CreateZone {
                config: Box::new(config),
                grid_float: Amount(grid_float),
            };
            print_receipt(json, &s.send_from(&from, vec![action])?.1);
            Ok(())
        }
    }
}

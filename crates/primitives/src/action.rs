//! Actions: what a transaction asks the chain to do. Each module owns some variants.
//!
//! Signatures carried inside actions (a device's proof of possession, a manufacturer's
//! attestation) cover data that is all in the transaction, so they are checked statelessly,
//! in the same batch as the transaction's own signatures (see [`Action::embedded_signatures`]).

use crate::codec::{put_opt_str, put_str, put_vec, Decode, Encode, Reader, Result};
use crate::limits::{
    MAX_ALLOWLIST, MAX_LABEL_BYTES, MAX_METADATA_PAIRS, MAX_MULTISIG_MEMBERS, MAX_SESSION_ACTIONS,
};
use crate::{Address, Amount, CodecError, PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// What kind of machine an identity belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineKind {
    /// PV inverter.
    Solar,
    /// Battery storage (has a capacity in Wh).
    Battery,
    /// EV charger.
    EvCharger,
    /// Energy meter.
    Meter,
    /// GPU or CPU server.
    Compute,
    /// Sensor.
    Sensor,
    /// Anything else.
    Other,
}

const KINDS: [(MachineKind, &str); 7] = [
    (MachineKind::Solar, "solar"),
    (MachineKind::Battery, "battery"),
    (MachineKind::EvCharger, "ev_charger"),
    (MachineKind::Meter, "meter"),
    (MachineKind::Compute, "compute"),
    (MachineKind::Sensor, "sensor"),
    (MachineKind::Other, "other"),
];

impl MachineKind {
    /// The kind's name, as the CLI and JSON spell it.
    pub fn name(self) -> &'static str {
        KINDS[self as usize].1
    }
}

impl std::str::FromStr for MachineKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        KINDS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = KINDS.iter().map(|(_, n)| *n).collect();
                format!("unknown machine kind {s}; one of {}", names.join(", "))
            })
    }
}

impl Encode for MachineKind {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

impl Decode for MachineKind {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let tag = r.u8()?;
        KINDS
            .get(tag as usize)
            .map(|(k, _)| *k)
            .ok_or(CodecError::BadTag {
                what: "machine kind",
                tag,
            })
    }
}

/// A short label: at most [`MAX_LABEL_BYTES`] bytes of UTF-8.
fn read_label(r: &mut Reader<'_>, what: &'static str) -> Result<String> {
    r.string(what, MAX_LABEL_BYTES)
}

/// Descriptive data of a machine, bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineMetadata {
    /// Manufacturer's name.
    #[serde(default)]
    pub manufacturer: String,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Serial number.
    #[serde(default)]
    pub serial: String,
    /// A few free key-value pairs.
    #[serde(default)]
    pub extra: Vec<(String, String)>,
}

impl Encode for MachineMetadata {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_str(out, &self.manufacturer);
        put_str(out, &self.model);
        put_str(out, &self.serial);
        crate::codec::put_len(out, self.extra.len());
        for (k, v) in &self.extra {
            put_str(out, k);
            put_str(out, v);
        }
    }
}

impl Decode for MachineMetadata {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let manufacturer = read_label(r, "manufacturer")?;
        let model = read_label(r, "model")?;
        let serial = read_label(r, "serial")?;
        let n = r.len("metadata pairs", MAX_METADATA_PAIRS)?;
        let mut extra = Vec::with_capacity(n);
        for _ in 0..n {
            extra.push((
                read_label(r, "metadata key")?,
                read_label(r, "metadata value")?,
            ));
        }
        Ok(MachineMetadata {
            manufacturer,
            model,
            serial,
            extra,
        })
    }
}

impl MachineMetadata {
    /// Checks the bounds that JSON input does not enforce by itself.
    pub fn check(&self) -> std::result::Result<(), String> {
        let labels = [&self.manufacturer, &self.model, &self.serial];
        let pairs = self.extra.iter().flat_map(|(k, v)| [k, v]);
        if let Some(l) = labels
            .into_iter()
            .chain(pairs)
            .find(|l| l.len() > MAX_LABEL_BYTES)
        {
            return Err(format!(
                "label of {} bytes exceeds {MAX_LABEL_BYTES}",
                l.len()
            ));
        }
        if self.extra.len() > MAX_METADATA_PAIRS {
            return Err(format!(
                "{} metadata pairs exceed {MAX_METADATA_PAIRS}",
                self.extra.len()
            ));
        }
        Ok(())
    }
}

/// A manufacturer's signature over a device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// A registered manufacturer key.
    pub manufacturer_key: PublicKey,
    /// Its signature over [`attestation_message`] of the device key.
    pub signature: Signature,
}

/// Everything needed to register a machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineRegistration {
    /// The device's public key; the device keeps the secret.
    pub device_key: PublicKey,
    /// The device key's signature over [`device_pop_message`] for the owner (the sender).
    pub device_signature: Signature,
    /// What kind of machine.
    pub kind: MachineKind,
    /// Rated power in W.
    pub rated_power_w: u64,
    /// Storage capacity in Wh (batteries).
    #[serde(default)]
    pub capacity_wh: Option<u64>,
    /// Energy zone it belongs to.
    #[serde(default)]
    pub zone: Option<String>,
    /// Descriptive metadata.
    #[serde(default)]
    pub metadata: MachineMetadata,
    /// Optional manufacturer attestation of the device key.
    #[serde(default)]
    pub attestation: Option<Attestation>,
}

/// A machine wallet's spending policy. Every value leaving the machine's account passes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendPolicy {
    /// Most micro-units one transaction may move out (fees not included).
    #[serde(default)]
    pub max_per_tx: Option<Amount>,
    /// Most micro-units, fees included, within any `window_blocks` consecutive blocks.
    #[serde(default)]
    pub max_per_window: Option<Amount>,
    /// Length of the rolling window in blocks (required with `max_per_window`).
    #[serde(default)]
    pub window_blocks: u64,
    /// If not empty, the only counterparties that may receive value.
    #[serde(default)]
    pub allowlist: Vec<Address>,
    /// Blocks during which nothing may be spent after a spend above `cooldown_above`.
    #[serde(default)]
    pub cooldown_blocks: u64,
    /// A spend above this starts a cooldown.
    #[serde(default)]
    pub cooldown_above: Option<Amount>,
}

impl Encode for SpendPolicy {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.max_per_tx.encode_to(out);
        self.max_per_window.encode_to(out);
        self.window_blocks.encode_to(out);
        put_vec(out, &self.allowlist);
        self.cooldown_blocks.encode_to(out);
        self.cooldown_above.encode_to(out);
    }
}

impl Decode for SpendPolicy {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(SpendPolicy {
            max_per_tx: Decode::decode_from(r)?,
            max_per_window: Decode::decode_from(r)?,
            window_blocks: r.u64()?,
            allowlist: r.vec("allowlist", MAX_ALLOWLIST)?,
            cooldown_blocks: r.u64()?,
            cooldown_above: Decode::decode_from(r)?,
        })
    }
}

/// One meter reading: cumulative counters, so readings are idempotent and a lost one loses
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterReading {
    /// The machine that measured it.
    pub machine_id: u64,
    /// The meter channel (a machine may have several meters).
    #[serde(default)]
    pub channel: u16,
    /// Strictly increasing per machine and channel.
    pub seq: u64,
    /// When it was measured, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Energy imported since the meter was installed, Wh.
    pub import_wh: u64,
    /// Energy exported since the meter was installed, Wh.
    pub export_wh: u64,
}

impl Encode for MeterReading {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.machine_id.encode_to(out);
        self.channel.encode_to(out);
        self.seq.encode_to(out);
        self.timestamp_ms.encode_to(out);
        self.import_wh.encode_to(out);
        self.export_wh.encode_to(out);
    }
}

impl Decode for MeterReading {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(MeterReading {
            machine_id: r.u64()?,
            channel: r.u16()?,
            seq: r.u64()?,
            timestamp_ms: r.u64()?,
            import_wh: r.u64()?,
            export_wh: r.u64()?,
        })
    }
}

impl MeterReading {
    /// The message the device key signs: a domain prefix, the chain id and the reading.
    pub fn signing_message(&self, chain_id: u64) -> Vec<u8> {
        let mut m = b"machina/reading/v1".to_vec();
        chain_id.encode_to(&mut m);
        self.encode_to(&mut m);
        m
    }

    /// Signs the reading with a device key.
    pub fn sign(self, chain_id: u64, device: &crate::Keypair) -> SignedReading {
        SignedReading {
            signature: device.sign(&self.signing_message(chain_id)),
            device_key: device.public(),
            reading: self,
        }
    }
}

/// A reading with its device's signature. The key travels with it so that signatures verify
/// in one batch before execution; execution then checks it is the machine's current key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReading {
    /// The reading.
    pub reading: MeterReading,
    /// The key that signed it.
    pub device_key: PublicKey,
    /// Signature over [`MeterReading::signing_message`].
    pub signature: Signature,
}

impl Encode for SignedReading {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.reading.encode_to(out);
        self.device_key.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for SignedReading {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(SignedReading {
            reading: Decode::decode_from(r)?,
            device_key: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        })
    }
}

/// A reporter's signed value for one round of a data feed. Two of these for the same feed and
/// round with different values prove equivocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedReport {
    /// The feed.
    pub feed: String,
    /// The round.
    pub round: u64,
    /// The value, in the feed's own integer unit.
    pub value: i64,
    /// The reporter's key.
    pub reporter: PublicKey,
    /// Signature over [`FeedReport::signing_message`].
    pub signature: Signature,
}

impl FeedReport {
    /// The message a reporter signs.
    pub fn signing_message(chain_id: u64, feed: &str, round: u64, value: i64) -> Vec<u8> {
        let mut m = b"machina/feed-report/v1".to_vec();
        chain_id.encode_to(&mut m);
        put_str(&mut m, feed);
        round.encode_to(&mut m);
        m.extend_from_slice(&value.to_be_bytes());
        m
    }

    /// A report signed by `reporter`.
    pub fn sign(
        chain_id: u64,
        feed: &str,
        round: u64,
        value: i64,
        reporter: &crate::Keypair,
    ) -> FeedReport {
        FeedReport {
            feed: feed.to_owned(),
            round,
            value,
            reporter: reporter.public(),
            signature: reporter.sign(&Self::signing_message(chain_id, feed, round, value)),
        }
    }
}

impl Encode for FeedReport {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_str(out, &self.feed);
        self.round.encode_to(out);
        out.extend_from_slice(&self.value.to_be_bytes());
        self.reporter.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for FeedReport {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(FeedReport {
            feed: read_label(r, "feed name")?,
            round: r.u64()?,
            value: i64::from_be_bytes(r.array()?),
            reporter: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        })
    }
}

/// How a data feed aggregates its reporters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed's name, e.g. `grid.retail_price.zone-a`.
    pub name: String,
    /// The reporters' addresses (each must post the bond before its reports count).
    pub reporters: Vec<Address>,
    /// Bond each reporter posts, micro-units.
    pub bond: Amount,
    /// Reports needed to set a round's value (the median of them).
    pub quorum: u16,
    /// Reports needed to move the value by more than `max_change_bps`.
    pub super_quorum: u16,
    /// Most a round may move the value, in basis points of the current value.
    pub max_change_bps: u32,
    /// After this long without a new round the value is stale.
    pub stale_after_ms: u64,
}

impl Encode for FeedConfig {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_str(out, &self.name);
        put_vec(out, &self.reporters);
        self.bond.encode_to(out);
        self.quorum.encode_to(out);
        self.super_quorum.encode_to(out);
        self.max_change_bps.encode_to(out);
        self.stale_after_ms.encode_to(out);
    }
}

impl Decode for FeedConfig {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(FeedConfig {
            name: read_label(r, "feed name")?,
            reporters: r.vec("feed reporters", crate::limits::MAX_FEED_REPORTERS)?,
            bond: Decode::decode_from(r)?,
            quorum: r.u16()?,
            super_quorum: r.u16()?,
            max_change_bps: r.u32()?,
            stale_after_ms: r.u64()?,
        })
    }
}

/// How an energy zone prices its trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum MarketRule {
    /// One price for all, `k_ppm` parts per million of the way from `p_low` to `p_high`.
    PayAsClear {
        /// 0 to 1,000,000.
        k_ppm: u32,
    },
    /// Buyers pay their bids; asks are paid the bids they met.
    PayAsBid,
}

/// The rules of an energy zone (a neighbourhood behind one transformer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The zone's name; machines name it as their zone.
    pub name: String,
    /// Length of a delivery interval, ms of chain time.
    pub interval_ms: u64,
    /// Orders for an interval close this long before it starts.
    pub gate_closure_ms: u64,
    /// The grid's retail price, micro-units per kWh: no bid above it.
    pub retail_price: u64,
    /// The grid's feed-in tariff, micro-units per kWh: no ask below it.
    pub feed_in_price: u64,
    /// Market fee on sellers' revenue, basis points.
    pub market_fee_bps: u32,
    /// Pricing rule.
    pub rule: MarketRule,
    /// Transformer import limit, W.
    pub import_limit_w: u64,
    /// Transformer export limit, W.
    pub export_limit_w: u64,
    /// Settlement waits at most this long after an interval ends for its readings.
    pub settlement_deadline_ms: u64,
}

impl Encode for ZoneConfig {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_str(out, &self.name);
        self.interval_ms.encode_to(out);
        self.gate_closure_ms.encode_to(out);
        self.retail_price.encode_to(out);
        self.feed_in_price.encode_to(out);
        self.market_fee_bps.encode_to(out);
        match self.rule {
            MarketRule::PayAsClear { k_ppm } => {
                out.push(0);
                k_ppm.encode_to(out);
            }
            MarketRule::PayAsBid => out.push(1),
        }
        self.import_limit_w.encode_to(out);
        self.export_limit_w.encode_to(out);
        self.settlement_deadline_ms.encode_to(out);
    }
}

impl Decode for ZoneConfig {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(ZoneConfig {
            name: read_label(r, "zone name")?,
            interval_ms: r.u64()?,
            gate_closure_ms: r.u64()?,
            retail_price: r.u64()?,
            feed_in_price: r.u64()?,
            market_fee_bps: r.u32()?,
            rule: match r.u8()? {
                0 => MarketRule::PayAsClear { k_ppm: r.u32()? },
                1 => MarketRule::PayAsBid,
                tag => {
                    return Err(CodecError::BadTag {
                        what: "market rule",
                        tag,
                    })
                }
            },
            import_limit_w: r.u64()?,
            export_limit_w: r.u64()?,
            settlement_deadline_ms: r.u64()?,
        })
    }
}

/// Which side of the market an order is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buy up to the quantity at most at the price.
    Bid,
    /// Sell up to the quantity at least at the price.
    Ask,
}

/// One thing a transaction asks the chain to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// `bank`: move `amount` from the sender to `to`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Micro-units to move.
        amount: Amount,
    },
    /// `identity`: register a manufacturer key that can attest devices.
    RegisterManufacturer {
        /// Its name.
        name: String,
        /// The manufacturer's key.
        public_key: PublicKey,
        /// That key's signature over [`manufacturer_pop_message`] for the sender.
        signature: Signature,
    },
    /// `identity`: register a machine owned by the sender.
    RegisterMachine(Box<MachineRegistration>),
    /// `identity`: replace a machine's metadata (owner only).
    SetMachineMetadata {
        /// The machine.
        machine_id: u64,
        /// New metadata.
        metadata: MachineMetadata,
    },
    /// `identity`: move a machine to another zone, or out of any (owner only).
    SetMachineZone {
        /// The machine.
        machine_id: u64,
        /// New zone.
        zone: Option<String>,
    },
    /// `identity`: replace the device key (owner only); the old key is refused at once.
    RotateDeviceKey {
        /// The machine.
        machine_id: u64,
        /// The new device key.
        new_key: PublicKey,
        /// The new key's signature over [`device_pop_message`] for the owner.
        signature: Signature,
    },
    /// `identity`: revoke a machine for good (owner only); its history stays.
    RevokeMachine {
        /// The machine.
        machine_id: u64,
    },
    /// `identity`: give a machine to a new owner; identity and reputation stay.
    TransferMachine {
        /// The machine.
        machine_id: u64,
        /// The new owner.
        new_owner: Address,
    },
    /// `wallet`: set a machine's spending policy (owner only).
    SetSpendPolicy {
        /// The machine.
        machine_id: u64,
        /// The policy.
        policy: SpendPolicy,
    },
    /// `wallet`: freeze or unfreeze a machine's wallet (owner only).
    SetWalletFrozen {
        /// The machine.
        machine_id: u64,
        /// Frozen or not.
        frozen: bool,
    },
    /// `wallet`: move a machine's whole balance to its owner (owner only).
    SweepMachine {
        /// The machine.
        machine_id: u64,
    },
    /// `wallet`: let another key act for a machine within limits (owner only).
    GrantSession {
        /// The machine.
        machine_id: u64,
        /// The session key.
        key: PublicKey,
        /// Names of the actions it may use, e.g. `transfer`.
        actions: Vec<String>,
        /// Most micro-units, fees included, it may move out in total.
        spend_cap: Amount,
        /// Last height it is valid at.
        expiry_height: u64,
    },
    /// `wallet`: withdraw a session key (owner only).
    RevokeSession {
        /// The machine.
        machine_id: u64,
        /// The session key.
        key: PublicKey,
    },
    /// `wallet`: create an M-of-N multisig account.
    CreateMultisig {
        /// Member keys.
        members: Vec<PublicKey>,
        /// Signatures needed.
        threshold: u8,
    },
    /// `wallet`: change the sender multisig's members (needs M signatures like any of its
    /// transactions).
    UpdateMultisig {
        /// New member keys.
        members: Vec<PublicKey>,
        /// New threshold.
        threshold: u8,
    },
    /// `wallet`: let `grantee` have its fees paid by the sender, within a cap, until a height.
    GrantFeeAllowance {
        /// The account whose fees are paid.
        grantee: Address,
        /// Most micro-units of fees in total.
        cap: Amount,
        /// Last height it is valid at.
        expiry_height: u64,
    },
    /// `wallet`: withdraw a fee allowance.
    RevokeFeeAllowance {
        /// The grantee.
        grantee: Address,
    },
    /// `oracle`: device-signed meter readings, submitted by anyone. Each is accepted or
    /// refused on its own; the receipt says which.
    SubmitReadings {
        /// The readings.
        readings: Vec<SignedReading>,
    },
    /// `oracle`: create a data feed; the sender administers nothing after this: the rules are
    /// fixed.
    CreateFeed(Box<FeedConfig>),
    /// `oracle`: post the sender's bond as a reporter of a feed.
    BondFeed {
        /// The feed.
        feed: String,
    },
    /// `oracle`: reporters' signed values, submitted by anyone.
    ReportFeed {
        /// The reports.
        reports: Vec<FeedReport>,
    },
    /// `oracle`: two signed values of one reporter for the same round; forfeits its bond.
    ProveEquivocation {
        /// One report.
        a: FeedReport,
        /// Another report, same feed, round and reporter, different value.
        b: FeedReport,
    },
    /// `energy`: create a zone; the sender funds the zone's grid account with `grid_float`,
    /// from which feed-in credits for unused energy are paid.
    CreateZone {
        /// The rules.
        config: Box<ZoneConfig>,
        /// Micro-units moved into the zone's grid account.
        grid_float: Amount,
    },
    /// `energy`: a machine's bid or ask for a future interval of its zone (sent by the machine
    /// or its owner; escrow comes from the machine's account under its wallet policy).
    PlaceOrder {
        /// The machine.
        machine_id: u64,
        /// Bid or ask.
        side: Side,
        /// Start of the delivery interval, ms (a multiple of the zone's interval).
        interval_start_ms: u64,
        /// Limit price, micro-units per kWh.
        price: u64,
        /// Quantity, Wh.
        qty_wh: u64,
    },
    /// `energy`: cancel an order before its gate closes; its escrow returns at once.
    CancelOrder {
        /// The zone.
        zone: String,
        /// The order.
        order_id: u64,
    },
}

/// What a signature embedded in an action proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddedSig {
    /// A device key's proof of possession.
    DevicePop,
    /// A manufacturer's attestation of a device key.
    Attestation,
    /// A manufacturer key's proof of possession.
    ManufacturerPop,
    /// A feed report used as equivocation evidence.
    Report,
}

/// The message a device key signs to prove possession for `owner` on `chain_id`.
pub fn device_pop_message(chain_id: u64, owner: &Address) -> Vec<u8> {
    [
        b"machina/device-pop/v1".as_slice(),
        &chain_id.to_be_bytes(),
        &owner.0,
    ]
    .concat()
}

/// The message a manufacturer key signs to attest `device_key`.
pub fn attestation_message(device_key: &PublicKey) -> Vec<u8> {
    [b"machina/attest/v1".as_slice(), &device_key.0].concat()
}

/// The message a manufacturer key signs to prove possession for `registrant` on `chain_id`.
pub fn manufacturer_pop_message(chain_id: u64, registrant: &Address) -> Vec<u8> {
    [
        b"machina/manufacturer-pop/v1".as_slice(),
        &chain_id.to_be_bytes(),
        &registrant.0,
    ]
    .concat()
}

impl Action {
    /// The action's name, as session-key grants list it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Transfer { .. } => "transfer",
            Action::RegisterManufacturer { .. } => "register_manufacturer",
            Action::RegisterMachine(_) => "register_machine",
            Action::SetMachineMetadata { .. } => "set_machine_metadata",
            Action::SetMachineZone { .. } => "set_machine_zone",
            Action::RotateDeviceKey { .. } => "rotate_device_key",
            Action::RevokeMachine { .. } => "revoke_machine",
            Action::TransferMachine { .. } => "transfer_machine",
            Action::SetSpendPolicy { .. } => "set_spend_policy",
            Action::SetWalletFrozen { .. } => "set_wallet_frozen",
            Action::SweepMachine { .. } => "sweep_machine",
            Action::GrantSession { .. } => "grant_session",
            Action::RevokeSession { .. } => "revoke_session",
            Action::CreateMultisig { .. } => "create_multisig",
            Action::UpdateMultisig { .. } => "update_multisig",
            Action::GrantFeeAllowance { .. } => "grant_fee_allowance",
            Action::RevokeFeeAllowance { .. } => "revoke_fee_allowance",
            Action::SubmitReadings { .. } => "submit_readings",
            Action::CreateFeed(_) => "create_feed",
            Action::BondFeed { .. } => "bond_feed",
            Action::ReportFeed { .. } => "report_feed",
            Action::ProveEquivocation { .. } => "prove_equivocation",
            Action::CreateZone { .. } => "create_zone",
            Action::PlaceOrder { .. } => "place_order",
            Action::CancelOrder { .. } => "cancel_order",
        }
    }

    /// Signatures inside this action, with the message each signs, for batch verification.
    pub fn embedded_signatures(
        &self,
        chain_id: u64,
        sender: &Address,
    ) -> Vec<(EmbeddedSig, Vec<u8>, PublicKey, Signature)> {
        match self {
            Action::RegisterMachine(r) => {
                let mut v = vec![(
                    EmbeddedSig::DevicePop,
                    device_pop_message(chain_id, sender),
                    r.device_key,
                    r.device_signature,
                )];
                if let Some(a) = &r.attestation {
                    v.push((
                        EmbeddedSig::Attestation,
                        attestation_message(&r.device_key),
                        a.manufacturer_key,
                        a.signature,
                    ));
                }
                v
            }
            Action::RotateDeviceKey {
                new_key, signature, ..
            } => vec![(
                EmbeddedSig::DevicePop,
                device_pop_message(chain_id, sender),
                *new_key,
                *signature,
            )],
            Action::RegisterManufacturer {
                public_key,
                signature,
                ..
            } => vec![(
                EmbeddedSig::ManufacturerPop,
                manufacturer_pop_message(chain_id, sender),
                *public_key,
                *signature,
            )],
            Action::ProveEquivocation { a, b } => [a, b]
                .into_iter()
                .map(|r| {
                    (
                        EmbeddedSig::Report,
                        FeedReport::signing_message(chain_id, &r.feed, r.round, r.value),
                        r.reporter,
                        r.signature,
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Signatures that are checked one by one: a bad one refuses only its own reading or
    /// report, not the transaction (a gateway's batch of thousands survives one bad device).
    /// Returns `(item index, message, key, signature)`.
    pub fn item_signatures(&self, chain_id: u64) -> Vec<(usize, Vec<u8>, PublicKey, Signature)> {
        match self {
            Action::SubmitReadings { readings } => readings
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    (
                        i,
                        r.reading.signing_message(chain_id),
                        r.device_key,
                        r.signature,
                    )
                })
                .collect(),
            Action::ReportFeed { reports } => reports
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let msg = FeedReport::signing_message(chain_id, &r.feed, r.round, r.value);
                    (i, msg, r.reporter, r.signature)
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Encode for MachineRegistration {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.device_key.encode_to(out);
        self.device_signature.encode_to(out);
        self.kind.encode_to(out);
        self.rated_power_w.encode_to(out);
        self.capacity_wh.encode_to(out);
        put_opt_str(out, self.zone.as_deref());
        self.metadata.encode_to(out);
        match &self.attestation {
            None => out.push(0),
            Some(a) => {
                out.push(1);
                a.manufacturer_key.encode_to(out);
                a.signature.encode_to(out);
            }
        }
    }
}

fn read_opt_label(r: &mut Reader<'_>, what: &'static str) -> Result<Option<String>> {
    r.opt_string(what, MAX_LABEL_BYTES)
}

impl Decode for MachineRegistration {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(MachineRegistration {
            device_key: Decode::decode_from(r)?,
            device_signature: Decode::decode_from(r)?,
            kind: Decode::decode_from(r)?,
            rated_power_w: r.u64()?,
            capacity_wh: Decode::decode_from(r)?,
            zone: read_opt_label(r, "zone")?,
            metadata: Decode::decode_from(r)?,
            attestation: match r.u8()? {
                0 => None,
                1 => Some(Attestation {
                    manufacturer_key: Decode::decode_from(r)?,
                    signature: Decode::decode_from(r)?,
                }),
                tag => {
                    return Err(CodecError::BadTag {
                        what: "attestation",
                        tag,
                    })
                }
            },
        })
    }
}

fn put_strings(out: &mut Vec<u8>, v: &[String]) {
    crate::codec::put_len(out, v.len());
    for s in v {
        put_str(out, s);
    }
}

fn read_strings(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<Vec<String>> {
    let n = r.len(what, max)?;
    (0..n).map(|_| read_label(r, what)).collect()
}

impl Encode for Action {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            Action::Transfer { to, amount } => {
                out.push(1);
                to.encode_to(out);
                amount.encode_to(out);
            }
            Action::RegisterManufacturer {
                name,
                public_key,
                signature,
            } => {
                out.push(10);
                put_str(out, name);
                public_key.encode_to(out);
                signature.encode_to(out);
            }
            Action::RegisterMachine(reg) => {
                out.push(11);
                reg.encode_to(out);
            }
            Action::SetMachineMetadata {
                machine_id,
                metadata,
            } => {
                out.push(12);
                machine_id.encode_to(out);
                metadata.encode_to(out);
            }
            Action::SetMachineZone { machine_id, zone } => {
                out.push(13);
                machine_id.encode_to(out);
                put_opt_str(out, zone.as_deref());
            }
            Action::RotateDeviceKey {
                machine_id,
                new_key,
                signature,
            } => {
                out.push(14);
                machine_id.encode_to(out);
                new_key.encode_to(out);
                signature.encode_to(out);
            }
            Action::RevokeMachine { machine_id } => {
                out.push(15);
                machine_id.encode_to(out);
            }
            Action::TransferMachine {
                machine_id,
                new_owner,
            } => {
                out.push(16);
                machine_id.encode_to(out);
                new_owner.encode_to(out);
            }
            Action::SetSpendPolicy { machine_id, policy } => {
                out.push(20);
                machine_id.encode_to(out);
                policy.encode_to(out);
            }
            Action::SetWalletFrozen { machine_id, frozen } => {
                out.push(21);
                machine_id.encode_to(out);
                frozen.encode_to(out);
            }
            Action::SweepMachine { machine_id } => {
                out.push(22);
                machine_id.encode_to(out);
            }
            Action::GrantSession {
                machine_id,
                key,
                actions,
                spend_cap,
                expiry_height,
            } => {
                out.push(23);
                machine_id.encode_to(out);
                key.encode_to(out);
                put_strings(out, actions);
                spend_cap.encode_to(out);
                expiry_height.encode_to(out);
            }
            Action::RevokeSession { machine_id, key } => {
                out.push(24);
                machine_id.encode_to(out);
                key.encode_to(out);
            }
            Action::CreateMultisig { members, threshold } => {
                out.push(25);
                put_vec(out, members);
                threshold.encode_to(out);
            }
            Action::UpdateMultisig { members, threshold } => {
                out.push(26);
                put_vec(out, members);
                threshold.encode_to(out);
            }
            Action::GrantFeeAllowance {
                grantee,
                cap,
                expiry_height,
            } => {
                out.push(27);
                grantee.encode_to(out);
                cap.encode_to(out);
                expiry_height.encode_to(out);
            }
            Action::RevokeFeeAllowance { grantee } => {
                out.push(28);
                grantee.encode_to(out);
            }
            Action::SubmitReadings { readings } => {
                out.push(30);
                put_vec(out, readings);
            }
            Action::CreateFeed(config) => {
                out.push(31);
                config.encode_to(out);
            }
            Action::BondFeed { feed } => {
                out.push(32);
                put_str(out, feed);
            }
            Action::ReportFeed { reports } => {
                out.push(33);
                put_vec(out, reports);
            }
            Action::ProveEquivocation { a, b } => {
                out.push(34);
                a.encode_to(out);
                b.encode_to(out);
            }
            Action::CreateZone { config, grid_float } => {
                out.push(40);
                config.encode_to(out);
                grid_float.encode_to(out);
            }
            Action::PlaceOrder {
                machine_id,
                side,
                interval_start_ms,
                price,
                qty_wh,
            } => {
                out.push(41);
                machine_id.encode_to(out);
                out.push(match side {
                    Side::Bid => 0,
                    Side::Ask => 1,
                });
                interval_start_ms.encode_to(out);
                price.encode_to(out);
                qty_wh.encode_to(out);
            }
            Action::CancelOrder { zone, order_id } => {
                out.push(42);
                put_str(out, zone);
                order_id.encode_to(out);
            }
        }
    }
}

impl Decode for Action {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let id = |r: &mut Reader<'_>| r.u64();
        Ok(match r.u8()? {
            1 => Action::Transfer {
                to: Decode::decode_from(r)?,
                amount: Decode::decode_from(r)?,
            },
            10 => Action::RegisterManufacturer {
                name: read_label(r, "manufacturer name")?,
                public_key: Decode::decode_from(r)?,
                signature: Decode::decode_from(r)?,
            },
            11 => Action::RegisterMachine(Box::new(Decode::decode_from(r)?)),
            12 => Action::SetMachineMetadata {
                machine_id: id(r)?,
                metadata: Decode::decode_from(r)?,
            },
            13 => Action::SetMachineZone {
                machine_id: id(r)?,
                zone: read_opt_label(r, "zone")?,
            },
            14 => Action::RotateDeviceKey {
                machine_id: id(r)?,
                new_key: Decode::decode_from(r)?,
                signature: Decode::decode_from(r)?,
            },
            15 => Action::RevokeMachine { machine_id: id(r)? },
            16 => Action::TransferMachine {
                machine_id: id(r)?,
                new_owner: Decode::decode_from(r)?,
            },
            20 => Action::SetSpendPolicy {
                machine_id: id(r)?,
                policy: Decode::decode_from(r)?,
            },
            21 => Action::SetWalletFrozen {
                machine_id: id(r)?,
                frozen: r.bool()?,
            },
            22 => Action::SweepMachine { machine_id: id(r)? },
            23 => Action::GrantSession {
                machine_id: id(r)?,
                key: Decode::decode_from(r)?,
                actions: read_strings(r, "session actions", MAX_SESSION_ACTIONS)?,
                spend_cap: Decode::decode_from(r)?,
                expiry_height: r.u64()?,
            },
            24 => Action::RevokeSession {
                machine_id: id(r)?,
                key: Decode::decode_from(r)?,
            },
            25 => Action::CreateMultisig {
                members: r.vec("multisig members", MAX_MULTISIG_MEMBERS)?,
                threshold: r.u8()?,
            },
            26 => Action::UpdateMultisig {
                members: r.vec("multisig members", MAX_MULTISIG_MEMBERS)?,
                threshold: r.u8()?,
            },
            27 => Action::GrantFeeAllowance {
                grantee: Decode::decode_from(r)?,
                cap: Decode::decode_from(r)?,
                expiry_height: r.u64()?,
            },
            28 => Action::RevokeFeeAllowance {
                grantee: Decode::decode_from(r)?,
            },
            30 => Action::SubmitReadings {
                readings: r.vec("readings", crate::limits::MAX_READINGS_PER_TX)?,
            },
            31 => Action::CreateFeed(Box::new(Decode::decode_from(r)?)),
            32 => Action::BondFeed {
                feed: read_label(r, "feed name")?,
            },
            33 => Action::ReportFeed {
                reports: r.vec("feed reports", crate::limits::MAX_REPORTS_PER_TX)?,
            },
            34 => Action::ProveEquivocation {
                a: Decode::decode_from(r)?,
                b: Decode::decode_from(r)?,
            },
            40 => Action::CreateZone {
                config: Box::new(Decode::decode_from(r)?),
                grid_float: Decode::decode_from(r)?,
            },
            41 => Action::PlaceOrder {
                machine_id: r.u64()?,
                side: match r.u8()? {
                    0 => Side::Bid,
                    1 => Side::Ask,
                    tag => return Err(CodecError::BadTag { what: "side", tag }),
                },
                interval_start_ms: r.u64()?,
                price: r.u64()?,
                qty_wh: r.u64()?,
            },
            42 => Action::CancelOrder {
                zone: read_label(r, "zone")?,
                order_id: r.u64()?,
            },
            tag => {
                return Err(CodecError::BadTag {
                    what: "action",
                    tag,
                })
            }
        })
    }
}

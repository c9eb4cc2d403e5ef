//! The templates [`stf`](super) builds transactions from: one [`Op`] per action, turned into a
//! real action of its module by [`action`].

use super::{device, machine, user, zone, CHAIN, INTERVAL};
use arbitrary::Arbitrary;
use machina_bank::BankAction;
use machina_compute::{ComputeAction, JobSpec, OfferTerms, Resources};
use machina_energy::{EnergyAction, MarketRule, Side, ZoneConfig};
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_oracle::{MeterReading, OracleAction};
use machina_primitives::{Amount, Decode, Keypair};
use machina_shares::SharesAction;
use machina_staking::{StakingAction, StakingParams, Subject};
use machina_stf::Action;

/// One transaction's action, from a template.
#[derive(Arbitrary, Debug)]
pub(super) enum Op {
    Transfer {
        to: u8,
        amount: u32,
    },
    TransferToMachine {
        machine: u8,
        amount: u32,
    },
    Register {
        device: u8,
        kind: u8,
        zone: Option<bool>,
        power_w: u32,
    },
    Revoke {
        machine: u8,
    },
    TransferMachine {
        machine: u8,
        to: u8,
    },
    Reading {
        device: u8,
        machine: u8,
        channel: bool,
        seq: u8,
        dt_s: u16,
        import_wh: u16,
        export_wh: u16,
    },
    CreateZone {
        zone: bool,
        pay_as_bid: bool,
        float: u32,
    },
    PlaceOrder {
        machine: u8,
        bid: bool,
        ahead: u8,
        price: u32,
        qty_wh: u16,
    },
    CancelOrder {
        zone: bool,
        order_id: u8,
    },
    Bond {
        machine: u8,
        amount: u32,
    },
    Unbond {
        machine: u8,
        amount: u32,
    },
    Offer {
        machine: u8,
        price: u16,
        capacity: u8,
        max_lease: u8,
    },
    WithdrawOffer {
        offer_id: u8,
    },
    Job {
        max_price: u16,
        blocks: u8,
        redundancy: u8,
        deposit: u32,
    },
    TopUp {
        job_id: u8,
        amount: u32,
    },
    Close {
        job_id: u8,
    },
    Ack {
        job_id: u8,
        replica: u8,
    },
    IssueShares {
        machine: u8,
        supply: u16,
        fee_bps: u16,
        forced: bool,
    },
    TransferShares {
        machine: u8,
        to: u8,
        amount: u16,
    },
    OfferShares {
        machine: u8,
        amount: u16,
        price: u16,
    },
    BuyShares {
        machine: u8,
        amount: u16,
        max_price: u16,
    },
    ClaimRevenue {
        machine: Option<u8>,
    },
    /// Any action the codec accepts.
    Raw(Vec<u8>),
}

fn gpu(gpus: u16) -> Resources {
    Resources {
        gpu_model: "h100".into(),
        gpus,
        gpu_mem_gb: 80,
        vcpus: 16,
        ram_gb: 128,
        disk_gb: 500,
    }
}

pub(super) fn action(op: &Op, sender: &Keypair, now: u64) -> Option<Action> {
    let min_bond = StakingParams::default().min_provider_bond.0;
    Some(match *op {
        Op::Transfer { to, amount } => BankAction::Transfer {
            to: user(to).address(),
            amount: Amount(u128::from(amount) * 1000),
        }
        .into(),
        Op::TransferToMachine { machine: m, amount } => BankAction::Transfer {
            to: machina_identity::machine_address(machine(m)),
            amount: Amount(u128::from(amount) * 1000),
        }
        .into(),
        Op::Register {
            device: d,
            kind,
            zone: z,
            power_w,
        } => {
            let d = device(d);
            let kinds = [
                MachineKind::Solar,
                MachineKind::Battery,
                MachineKind::Compute,
                MachineKind::Meter,
            ];
            IdentityAction::RegisterMachine(Box::new(MachineRegistration {
                device_key: d.public(),
                device_signature: d.sign(&device_pop_message(CHAIN, &sender.address())),
                kind: kinds[usize::from(kind) % kinds.len()],
                rated_power_w: u64::from(power_w),
                capacity_wh: None,
                zone: z.map(zone),
                metadata: MachineMetadata::default(),
                attestation: None,
            }))
            .into()
        }
        Op::Revoke { machine: m } => IdentityAction::RevokeMachine {
            machine_id: machine(m),
        }
        .into(),
        Op::TransferMachine { machine: m, to } => IdentityAction::TransferMachine {
            machine_id: machine(m),
            new_owner: user(to).address(),
        }
        .into(),
        Op::Reading {
            device: d,
            machine: m,
            channel,
            seq,
            dt_s,
            import_wh,
            export_wh,
        } => {
            let r = MeterReading {
                machine_id: machine(m),
                channel: u16::from(channel),
                seq: u64::from(seq),
                timestamp_ms: (now + u64::from(dt_s) * 1000).saturating_sub(600_000),
                import_wh: u64::from(seq) * u64::from(import_wh),
                export_wh: u64::from(seq) * u64::from(export_wh),
            };
            OracleAction::SubmitReadings {
                readings: vec![r.sign(CHAIN, device(d))],
            }
            .into()
        }
        Op::CreateZone {
            zone: z,
            pay_as_bid,
            float,
        } => EnergyAction::CreateZone {
            config: Box::new(ZoneConfig {
                name: zone(z),
                interval_ms: INTERVAL,
                gate_closure_ms: 60_000,
                retail_price: 300_000,
                feed_in_price: 80_000,
                market_fee_bps: 100,
                rule: if pay_as_bid {
                    MarketRule::PayAsBid
                } else {
                    MarketRule::PayAsClear { k_ppm: 500_000 }
                },
                import_limit_w: 50_000,
                export_limit_w: 50_000,
                settlement_deadline_ms: 600_000,
            }),
            grid_float: Amount(u128::from(float) * 1000),
        }
        .into(),
        Op::PlaceOrder {
            machine: m,
            bid,
            ahead,
            price,
            qty_wh,
        } => EnergyAction::PlaceOrder {
            machine_id: machine(m),
            side: if bid { Side::Bid } else { Side::Ask },
            interval_start_ms: (now / INTERVAL + 1 + u64::from(ahead % 4)) * INTERVAL,
            price: u64::from(price),
            qty_wh: u64::from(qty_wh),
        }
        .into(),
        Op::CancelOrder { zone: z, order_id } => EnergyAction::CancelOrder {
            zone: zone(z),
            order_id: u64::from(order_id % 16),
        }
        .into(),
        Op::Bond { machine: m, amount } => StakingAction::Bond {
            subject: Subject::Provider {
                machine_id: machine(m),
            },
            amount: Amount(min_bond / 2 + u128::from(amount)),
        }
        .into(),
        Op::Unbond { machine: m, amount } => StakingAction::Unbond {
            subject: Subject::Provider {
                machine_id: machine(m),
            },
            amount: Amount(u128::from(amount)),
        }
        .into(),
        Op::Offer {
            machine: m,
            price,
            capacity,
            max_lease,
        } => ComputeAction::Offer {
            machine_id: machine(m),
            terms: OfferTerms {
                resources: gpu(1),
                region: "eu".into(),
                price_per_block: Amount(u128::from(price)),
                capacity: u16::from(capacity % 4),
                max_lease_blocks: u64::from(max_lease),
            },
        }
        .into(),
        Op::WithdrawOffer { offer_id } => ComputeAction::WithdrawOffer {
            offer_id: u64::from(offer_id % 8),
        }
        .into(),
        Op::Job {
            max_price,
            blocks,
            redundancy,
            deposit,
        } => ComputeAction::Job {
            spec: JobSpec {
                requirements: gpu(1),
                region: String::new(),
                min_reputation: 0,
                max_price_per_block: Amount(u128::from(max_price)),
                blocks: u64::from(blocks % 16),
                redundancy: redundancy % 4,
                sla: machina_compute::Sla::default(),
                attested: false,
            },
            deposit: Amount(u128::from(deposit)),
        }
        .into(),
        Op::TopUp { job_id, amount } => ComputeAction::TopUp {
            job_id: u64::from(job_id % 8),
            amount: Amount(u128::from(amount)),
        }
        .into(),
        Op::Close { job_id } => ComputeAction::Close {
            job_id: u64::from(job_id % 8),
        }
        .into(),
        Op::Ack { job_id, replica } => ComputeAction::Ack {
            job_id: u64::from(job_id % 8),
            replica: replica % 4,
        }
        .into(),
        Op::IssueShares {
            machine: m,
            supply,
            fee_bps,
            forced,
        } => SharesAction::IssueShares {
            machine_id: machine(m),
            supply: u64::from(supply),
            operator_fee_bps: fee_bps % 12_000,
            forced_transfer: forced,
        }
        .into(),
        Op::TransferShares {
            machine: m,
            to,
            amount,
        } => SharesAction::TransferShares {
            machine_id: machine(m),
            to: user(to).address(),
            amount: u64::from(amount),
        }
        .into(),
        Op::OfferShares {
            machine: m,
            amount,
            price,
        } => SharesAction::OfferShares {
            machine_id: machine(m),
            amount: u64::from(amount),
            price_per_share: Amount(u128::from(price)),
        }
        .into(),
        Op::BuyShares {
            machine: m,
            amount,
            max_price,
        } => SharesAction::BuyShares {
            machine_id: machine(m),
            amount: u64::from(amount),
            max_price_per_share: Amount(u128::from(max_price)),
        }
        .into(),
        Op::ClaimRevenue { machine: m } => SharesAction::ClaimRevenue {
            machine_id: m.map(machine),
        }
        .into(),
        Op::Raw(ref bytes) => Action::decode_exact(bytes, 64 * 1024).ok()?,
    })
}

//! The compute market's `machina tx compute` and `machina query compute` subcommands.

use crate::action::{ComputeAction, Heartbeat, JobSpec, OfferTerms, Resources, Sla};
use crate::routes::{BookView, JobView, MachineLeasesView, OfferView};
use clap::{Args, Subcommand};
use machina_module_cli::{QueryHost, TxHost};
use machina_primitives::Amount;

/// `machina tx compute ...`.
#[derive(Subcommand)]
pub enum ComputeTx {
    /// The compute market: offers, jobs, leases.
    #[command(subcommand)]
    Compute(ComputeTxCmd),
}

/// `machina query compute ...`.
#[derive(Subcommand)]
pub enum ComputeQueryCmd {
    /// The compute market: offers, jobs, a machine's leases, a GPU model's book.
    #[command(subcommand)]
    Compute(ComputeQuery),
}

/// Resources of one slot (offers) or at least one replica needs (jobs).
#[derive(Args, Clone)]
pub struct ResourceArgs {
    /// GPU model label (`cpu` for CPU only).
    #[arg(long)]
    gpu_model: String,
    /// GPUs.
    #[arg(long, default_value_t = 0)]
    gpus: u16,
    /// Memory per GPU, GB.
    #[arg(long, default_value_t = 0)]
    gpu_mem_gb: u16,
    /// Virtual CPUs.
    #[arg(long, default_value_t = 0)]
    vcpus: u16,
    /// RAM, GB.
    #[arg(long, default_value_t = 0)]
    ram_gb: u32,
    /// Disk, GB.
    #[arg(long, default_value_t = 0)]
    disk_gb: u32,
}

impl From<ResourceArgs> for Resources {
    fn from(a: ResourceArgs) -> Self {
        Resources {
            gpu_model: a.gpu_model,
            gpus: a.gpus,
            gpu_mem_gb: a.gpu_mem_gb,
            vcpus: a.vcpus,
            ram_gb: a.ram_gb,
            disk_gb: a.disk_gb,
        }
    }
}

/// An offer's terms as flags.
#[derive(Args, Clone)]
pub struct TermsArgs {
    /// One slot's resources.
    #[command(flatten)]
    resources: ResourceArgs,
    /// Region label.
    #[arg(long)]
    region: String,
    /// Micro-units per slot per block.
    #[arg(long)]
    price: Amount,
    /// Slots that can be leased at once.
    #[arg(long, default_value_t = 1)]
    capacity: u16,
    /// Longest lease accepted, blocks.
    #[arg(long)]
    max_lease_blocks: u64,
}

impl From<TermsArgs> for OfferTerms {
    fn from(a: TermsArgs) -> Self {
        OfferTerms {
            resources: a.resources.into(),
            region: a.region,
            price_per_block: a.price,
            capacity: a.capacity,
            max_lease_blocks: a.max_lease_blocks,
        }
    }
}

/// What `machina tx compute` sends.
#[derive(Subcommand)]
pub enum ComputeTxCmd {
    /// Offer slots of a compute machine you own (it needs the provider bond to be matched).
    Offer {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The machine.
        #[arg(long)]
        machine: u64,
        /// The terms.
        #[command(flatten)]
        terms: TermsArgs,
    },
    /// New terms for an offer.
    UpdateOffer {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The offer.
        #[arg(long)]
        offer: u64,
        /// The terms.
        #[command(flatten)]
        terms: TermsArgs,
    },
    /// Withdraw an offer (running leases run to their end).
    WithdrawOffer {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The offer.
        #[arg(long)]
        offer: u64,
    },
    /// Post a job: matched at the end of this block to the cheapest feasible offers.
    Job {
        /// Key name of the tenant.
        #[arg(long)]
        from: String,
        /// What each replica needs at least.
        #[command(flatten)]
        needs: ResourceArgs,
        /// Region (any when left out).
        #[arg(long, default_value = "")]
        region: String,
        /// Least provider reputation.
        #[arg(long, default_value_t = 0)]
        min_reputation: u64,
        /// The most paid per replica per block, micro-units.
        #[arg(long)]
        max_price: Amount,
        /// Length, blocks.
        #[arg(long)]
        blocks: u64,
        /// Replicas on distinct providers, 1 to 5.
        #[arg(long, default_value_t = 1)]
        redundancy: u8,
        /// Escrow moved in now, micro-units.
        #[arg(long)]
        deposit: Amount,
        /// SLA: blocks between heartbeats (0: no SLA).
        #[arg(long, default_value_t = 0)]
        heartbeat_every_blocks: u64,
        /// SLA: heartbeats that may be missed in a row.
        #[arg(long, default_value_t = 0)]
        max_missed: u32,
        /// SLA: part of the provider's bond a breach pays the tenant, basis points.
        #[arg(long, default_value_t = 0)]
        penalty_bps: u32,
        /// Only offers whose attributes a registered auditor attested.
        #[arg(long)]
        attested: bool,
    },
    /// Attest an offer's hardware and region as a registered auditor: what the node shows now
    /// is what is attested.
    Attest {
        /// Key name of the auditor.
        #[arg(long)]
        from: String,
        /// The offer.
        #[arg(long)]
        offer: u64,
    },
    /// Withdraw an offer's attestation as a registered auditor.
    RevokeAttestation {
        /// Key name of the auditor.
        #[arg(long)]
        from: String,
        /// The offer.
        #[arg(long)]
        offer: u64,
    },
    /// Add escrow to a job (a paused job resumes).
    TopUp {
        /// Key name of the tenant.
        #[arg(long)]
        from: String,
        /// The job.
        #[arg(long)]
        job: u64,
        /// Micro-units.
        #[arg(long)]
        amount: Amount,
    },
    /// Close a job: used blocks are paid, the rest of the escrow returns at once.
    Close {
        /// Key name of the tenant.
        #[arg(long)]
        from: String,
        /// The job.
        #[arg(long)]
        job: u64,
    },
    /// Acknowledge a lease as its provider (the machine's owner).
    Ack {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The job.
        #[arg(long)]
        job: u64,
        /// The replica.
        #[arg(long, default_value_t = 0)]
        replica: u8,
    },
    /// Commit to a replica's result (the commitment is computed here from the result and a
    /// salt you keep for the reveal).
    Commit {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The job.
        #[arg(long)]
        job: u64,
        /// The replica.
        #[arg(long, default_value_t = 0)]
        replica: u8,
        /// The result's hash, hex.
        #[arg(long)]
        result: String,
        /// A secret salt, hex (32 bytes).
        #[arg(long)]
        salt: String,
    },
    /// Reveal the result a replica committed to.
    Reveal {
        /// Key name of the machine's owner.
        #[arg(long)]
        from: String,
        /// The job.
        #[arg(long)]
        job: u64,
        /// The replica.
        #[arg(long, default_value_t = 0)]
        replica: u8,
        /// The result's hash, hex.
        #[arg(long)]
        result: String,
        /// The salt of the commitment, hex.
        #[arg(long)]
        salt: String,
        /// Where the result is.
        #[arg(long, default_value = "")]
        uri: String,
    },
    /// A device-signed heartbeat of a lease, sent as the machine's account.
    Heartbeat {
        /// Key name of the provider machine's device key (signs the heartbeat and the
        /// transaction).
        #[arg(long)]
        from: String,
        /// The provider machine.
        #[arg(long)]
        machine: u64,
        /// The job.
        #[arg(long)]
        job: u64,
        /// The replica.
        #[arg(long, default_value_t = 0)]
        replica: u8,
        /// GPU-seconds used so far.
        #[arg(long, default_value_t = 0)]
        gpu_seconds: u64,
    },
}

/// What `machina query compute` reads.
#[derive(Subcommand)]
pub enum ComputeQuery {
    /// One offer.
    Offer {
        /// Offer id.
        id: u64,
    },
    /// One job: status, leases, what was paid, escrow.
    Job {
        /// Job id.
        id: u64,
    },
    /// The leases a machine holds.
    Leases {
        /// Machine id.
        #[arg(long)]
        machine: u64,
    },
    /// The offers of one GPU model, cheapest first.
    Book {
        /// GPU model label.
        gpu_model: String,
    },
}

/// Runs a compute `tx` subcommand.
pub fn run_tx(host: &impl TxHost<ComputeAction>, cmd: ComputeTx) -> anyhow::Result<()> {
    let ComputeTx::Compute(cmd) = cmd;
    let (from, action) = match cmd {
        ComputeTxCmd::Offer {
            from,
            machine,
            terms,
        } => (
            from,
            ComputeAction::Offer {
                machine_id: machine,
                terms: terms.into(),
            },
        ),
        ComputeTxCmd::UpdateOffer { from, offer, terms } => (
            from,
            ComputeAction::UpdateOffer {
                offer_id: offer,
                terms: terms.into(),
            },
        ),
        ComputeTxCmd::WithdrawOffer { from, offer } => {
            (from, ComputeAction::WithdrawOffer { offer_id: offer })
        }
        ComputeTxCmd::Job {
            from,
            needs,
            region,
            min_reputation,
            max_price,
            blocks,
            redundancy,
            deposit,
            heartbeat_every_blocks,
            max_missed,
            penalty_bps,
            attested,
        } => {
            let spec = JobSpec {
                requirements: needs.into(),
                region,
                min_reputation,
                max_price_per_block: max_price,
                blocks,
                redundancy,
                sla: Sla {
                    heartbeat_every_blocks,
                    max_missed,
                    penalty_bps,
                },
                attested,
            };
            (from, ComputeAction::Job { spec, deposit })
        }
        ComputeTxCmd::Attest { from, offer } => {
            let (o, _): (OfferView, _) = host.get_as(&format!("/v1/compute/offer/{offer}"))?;
            let attributes = crate::offer_attributes(&o.terms);
            (
                from,
                ComputeAction::Attest {
                    offer_id: offer,
                    attributes,
                },
            )
        }
        ComputeTxCmd::RevokeAttestation { from, offer } => {
            (from, ComputeAction::RevokeAttestation { offer_id: offer })
        }
        ComputeTxCmd::TopUp { from, job, amount } => (
            from,
            ComputeAction::TopUp {
                job_id: job,
                amount,
            },
        ),
        ComputeTxCmd::Close { from, job } => (from, ComputeAction::Close { job_id: job }),
        ComputeTxCmd::Ack { from, job, replica } => (
            from,
            ComputeAction::Ack {
                job_id: job,
                replica,
            },
        ),
        ComputeTxCmd::Commit {
            from,
            job,
            replica,
            result,
            salt,
        } => {
            let (result, salt) = (hash_arg("--result", &result)?, hash_arg("--salt", &salt)?);
            let commitment = crate::result_commitment(job, replica, &result, &salt);
            (
                from,
                ComputeAction::Commit {
                    job_id: job,
                    replica,
                    commitment,
                },
            )
        }
        ComputeTxCmd::Reveal {
            from,
            job,
            replica,
            result,
            salt,
            uri,
        } => (
            from,
            ComputeAction::Reveal {
                job_id: job,
                replica,
                result: hash_arg("--result", &result)?,
                uri,
                salt: hash_arg("--salt", &salt)?,
            },
        ),
        ComputeTxCmd::Heartbeat {
            from,
            machine,
            job,
            replica,
            gpu_seconds,
        } => {
            let device = host.key(&from)?;
            let height = host.get("/v1/health")?["height"].as_u64().unwrap_or(0) + 1;
            let chain_id = host.chain_id()?;
            let b = Heartbeat::sign(chain_id, job, replica, height, gpu_seconds, &device);
            let action = ComputeAction::Heartbeats { beats: vec![b] };
            let rec = host.send(&device, host.machine_address(machine)?, vec![action])?;
            host.print_receipt(&rec);
            return Ok(());
        }
    };
    host.print_receipt(&host.send_from(&from, vec![action])?.1);
    Ok(())
}

fn hash_arg(flag: &str, s: &str) -> anyhow::Result<machina_primitives::Hash> {
    machina_primitives::Hash::from_hex(s)
        .ok_or_else(|| anyhow::anyhow!("{flag} is 32 bytes of hex"))
}

/// Runs a compute `query` subcommand.
pub fn run_query(host: &impl QueryHost, cmd: ComputeQueryCmd) -> anyhow::Result<()> {
    let ComputeQueryCmd::Compute(cmd) = cmd;
    match cmd {
        ComputeQuery::Offer { id } => {
            let (o, v): (OfferView, _) = host.get_as(&format!("/v1/compute/offer/{id}"))?;
            host.print(&v, &|| {
                format!(
                    "offer {} of machine {}: {} slots ({} leased) of {} {}x, {} micro/block in {}{}{}",
                    o.offer_id,
                    o.machine_id,
                    o.terms.capacity,
                    o.leased,
                    o.terms.resources.gpu_model,
                    o.terms.resources.gpus,
                    o.terms.price_per_block,
                    o.terms.region,
                    if o.withdrawn { " (withdrawn)" } else { "" },
                    o.attestation
                        .as_ref()
                        .map(|a| format!(", attested by {} at height {}", a.auditor, a.height))
                        .unwrap_or_default()
                )
            });
        }
        ComputeQuery::Job { id } => {
            let (j, v): (JobView, _) = host.get_as(&format!("/v1/compute/job/{id}"))?;
            host.print(&v, &|| job_text(&j));
        }
        ComputeQuery::Leases { machine } => {
            let (l, v): (MachineLeasesView, _) =
                host.get_as(&format!("/v1/compute/leases?machine={machine}"))?;
            host.print(&v, &|| {
                let mut out = format!("machine {}: {} leases", l.machine_id, l.leases.len());
                for x in &l.leases {
                    out += &format!(
                        "\n  job {} replica {} ({}): {} micro/block, paid {}, paid until height {}",
                        x.job_id,
                        x.replica,
                        x.status.name(),
                        x.lease.price_per_block,
                        x.lease.paid,
                        x.lease.paid_until_height
                    );
                }
                out
            });
        }
        ComputeQuery::Book { gpu_model } => {
            let (b, v): (BookView, _) = host.get_as(&format!("/v1/compute/book/{gpu_model}"))?;
            host.print(&v, &|| {
                let mut out = format!("{}: {} offers", b.gpu_model, b.offers.len());
                for o in &b.offers {
                    out += &format!(
                        "\n  offer {} machine {}: {} micro/block, {}/{} leased, {}",
                        o.offer_id,
                        o.machine_id,
                        o.terms.price_per_block,
                        o.leased,
                        o.terms.capacity,
                        o.terms.region
                    );
                }
                out
            });
        }
    }
    Ok(())
}

fn job_text(j: &JobView) -> String {
    let mut out = format!(
        "job {} ({}): escrow {} micro, paid until height {}, covered until {}, ends at {}",
        j.job_id,
        j.status.name(),
        j.escrow,
        j.paid_until_height,
        j.covered_until_height,
        j.end_height
    );
    for l in &j.leases {
        out += &format!(
            "\n  machine {} (offer {}): {} micro/block, paid {}",
            l.machine_id, l.offer_id, l.price_per_block, l.paid
        );
    }
    out
}

//! The compute market's HTTP routes and their response types (shared with the CLI).

use crate::action::{JobSpec, OfferTerms};
use crate::records::{Attestation, Job, JobStatus, LeaseRef, Offer};
use crate::ComputeError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use machina_module_api::{parse_id, ApiError, ApiPath, ApiQuery, ApiResult, ReadHost, Routes};
use machina_primitives::{Address, Amount, Hash};
use serde::{Deserialize, Serialize};

/// `GET /v1/compute/offer/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OfferView {
    /// The offer's id.
    pub offer_id: u64,
    /// The machine.
    pub machine_id: u64,
    /// What it sells.
    pub terms: OfferTerms,
    /// Slots leased now.
    pub leased: u16,
    /// Withdrawn: no new leases.
    pub withdrawn: bool,
    /// The hash an auditor attests ([`crate::offer_attributes`] of the terms).
    pub attributes: Hash,
    /// A registered auditor's attestation, if any.
    pub attestation: Option<Attestation>,
}

impl From<Offer> for OfferView {
    fn from(o: Offer) -> Self {
        OfferView {
            attributes: crate::offer_attributes(&o.terms),
            offer_id: o.offer_id,
            machine_id: o.machine_id,
            terms: o.terms,
            leased: o.leased,
            withdrawn: o.withdrawn,
            attestation: o.attestation,
        }
    }
}

/// One replica's lease, as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeaseView {
    /// The offer whose slot it holds.
    pub offer_id: u64,
    /// The provider machine.
    pub machine_id: u64,
    /// Micro-units per block.
    pub price_per_block: Amount,
    /// Paid so far.
    pub paid: Amount,
    /// The first block not paid yet (the job's).
    pub paid_until_height: u64,
    /// Its first block.
    pub start_height: u64,
    /// The block after its last.
    pub end_height: u64,
    /// Still running (a breach or a missing acknowledgement ends it).
    pub active: bool,
    /// The provider acknowledged it.
    pub acked: bool,
    /// Its last heartbeat's height.
    pub last_heartbeat_height: u64,
    /// GPU-seconds the device last reported.
    pub gpu_seconds: u64,
    /// Whether its replica committed to a result.
    pub committed: bool,
    /// The result it revealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealed: Option<machina_primitives::Hash>,
}

/// `GET /v1/compute/job/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobView {
    /// The job's id.
    pub job_id: u64,
    /// Who posted and pays.
    pub tenant: Address,
    /// `waiting`, `leased`, `paused`, `closed` or `failed`.
    pub status: JobStatus,
    /// What it needs.
    pub spec: JobSpec,
    /// Escrow left.
    pub escrow: Amount,
    /// The height it was posted at.
    pub posted_height: u64,
    /// Its leases, one per replica.
    pub leases: Vec<LeaseView>,
    /// The first block not paid yet.
    pub paid_until_height: u64,
    /// The first block its escrow does not cover (while leased).
    pub covered_until_height: u64,
    /// The block after its last.
    pub end_height: u64,
    /// The majority result of its replicas, once tallied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<machina_primitives::Hash>,
    /// Where the majority says the result is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub result_uri: String,
    /// The height at whose end the results are tallied (0: none pending).
    pub tally_height: u64,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        let covered = j.covered_until();
        JobView {
            leases: j
                .leases
                .iter()
                .map(|l| LeaseView {
                    offer_id: l.offer_id,
                    machine_id: l.machine_id,
                    price_per_block: l.price_per_block,
                    paid: l.paid,
                    paid_until_height: j.paid_until_height,
                    start_height: l.start_height,
                    end_height: l.end_height,
                    active: l.active,
                    acked: l.acked,
                    last_heartbeat_height: l.last_beat_height,
                    gpu_seconds: l.gpu_seconds,
                    committed: l.commitment.is_some(),
                    revealed: l.revealed,
                })
                .collect(),
            job_id: j.job_id,
            tenant: j.tenant,
            status: j.status,
            spec: j.spec,
            escrow: j.escrow,
            posted_height: j.posted_height,
            paid_until_height: j.paid_until_height,
            covered_until_height: if j.status == JobStatus::Waiting {
                0
            } else {
                covered
            },
            end_height: j.end_height,
            result: j.result,
            result_uri: j.result_uri,
            tally_height: j.tally_height,
        }
    }
}

/// `GET /v1/compute/leases?machine=ID`: the leases a machine holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MachineLeasesView {
    /// The machine.
    pub machine_id: u64,
    /// Its leases: the job, the replica, and the lease.
    pub leases: Vec<MachineLeaseView>,
}

/// One lease of a machine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MachineLeaseView {
    /// The job.
    pub job_id: u64,
    /// The replica.
    pub replica: u8,
    /// The job's status.
    pub status: JobStatus,
    /// The lease.
    pub lease: LeaseView,
}

/// `GET /v1/compute/book/{gpu_model}`: the offers of one GPU model, cheapest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BookView {
    /// The model.
    pub gpu_model: String,
    /// Its offers.
    pub offers: Vec<OfferView>,
}

/// The compute market's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/compute/offer/{id}", "get", get(get_offer::<H>)),
        ("/v1/compute/job/{id}", "get", get(get_job::<H>)),
        ("/v1/compute/leases", "get", get(get_leases::<H>)),
        ("/v1/compute/book/{gpu_model}", "get", get(get_book::<H>)),
        (
            "/v1/compute/offers",
            "get",
            get(crate::listing::get_offers::<H>),
        ),
        (
            "/v1/compute/jobs",
            "get",
            get(crate::listing::get_jobs::<H>),
        ),
    ]
}

fn not_found(e: ComputeError) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, e.code(), e.to_string())
}

async fn get_offer<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<OfferView> {
    let id = parse_id(&id)?;
    let o = crate::offer(&h.view().state, id)
        .ok_or_else(|| not_found(ComputeError::UnknownOffer(id)))?;
    Ok(Json(o.into()))
}

async fn get_job<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<JobView> {
    let id = parse_id(&id)?;
    let j =
        crate::job(&h.view().state, id).ok_or_else(|| not_found(ComputeError::UnknownJob(id)))?;
    Ok(Json(j.into()))
}

#[derive(Deserialize)]
struct LeasesQuery {
    machine: u64,
}

async fn get_leases<H: ReadHost>(
    State(h): State<H>,
    ApiQuery(q): ApiQuery<LeasesQuery>,
) -> ApiResult<MachineLeasesView> {
    let state = h.view().state;
    let leases = crate::machine_leases(&state, q.machine)
        .into_iter()
        .filter_map(|LeaseRef { job_id, replica }| {
            let j: JobView = crate::job(&state, job_id)?.into();
            let lease = j.leases.get(usize::from(replica))?.clone();
            Some(MachineLeaseView {
                job_id,
                replica,
                status: j.status,
                lease,
            })
        })
        .collect();
    Ok(Json(MachineLeasesView {
        machine_id: q.machine,
        leases,
    }))
}

async fn get_book<H: ReadHost>(
    State(h): State<H>,
    ApiPath(model): ApiPath<String>,
) -> ApiResult<BookView> {
    let state = h.view().state;
    let offers = crate::book(&state, &model)
        .into_iter()
        .filter_map(|(_, id)| crate::offer(&state, id).map(OfferView::from))
        .collect();
    Ok(Json(BookView {
        gpu_model: model,
        offers,
    }))
}

//! `GET /v1/compute/offers` and `GET /v1/compute/jobs`: offers and jobs, newest first, in
//! pages with a cursor.
//!
//! Offers and jobs are numbered by counters from 1 and never deleted, so a page walks the ids
//! down from its cursor and reads each record. A filter that matches few records would make
//! that walk long: a request reads at most [`MAX_LIST_SCAN`] ids and returns a cursor where it
//! stopped, so a client follows `next` until it is absent, whatever the filter.

use crate::records::{self, JobStatus};
use crate::routes::{JobView, OfferView};
use machina_module_api::{quote, ApiError, ApiQuery, ApiResult, ReadHost};
use machina_state::StateRead;
use serde::{Deserialize, Serialize};

/// Most offers or jobs one page returns: each is a full record (a job with its leases).
pub const MAX_LIST_PAGE: u64 = 100;

/// Most ids one request reads, matching or not: the bound on a page's work when a filter
/// matches little.
pub const MAX_LIST_SCAN: u64 = 1_000;

/// `GET /v1/compute/offers`: a page of offers, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OffersPage {
    /// Offers ever made (they are numbered 1 to this).
    pub count: u64,
    /// The matching offers of this page, newest first, at most `limit`.
    pub offers: Vec<OfferView>,
    /// The `before` of the next page, if ids below it are left to read.
    pub next: Option<u64>,
}

/// `GET /v1/compute/jobs`: a page of jobs, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobsPage {
    /// Jobs ever posted (they are numbered 1 to this).
    pub count: u64,
    /// The matching jobs of this page, newest first, at most `limit`.
    pub jobs: Vec<JobView>,
    /// The `before` of the next page, if ids below it are left to read.
    pub next: Option<u64>,
}

/// Where a page starts and how long it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    /// Only ids below this one (all by default).
    pub before: Option<u64>,
    /// Most records returned (and [`MAX_LIST_PAGE`]).
    pub limit: Option<u64>,
}

/// Which offers a page lists.
#[derive(Clone, Debug, Default)]
pub struct OfferFilter {
    /// Only offers of this GPU model.
    pub gpu_model: Option<String>,
    /// Only open offers (`Some(true)`) or withdrawn ones (`Some(false)`).
    pub open: Option<bool>,
    /// Only offers of this machine.
    pub machine_id: Option<u64>,
}

/// Walks ids down from the cursor, keeping what `keep` returns, until the page is full, the
/// scan budget is spent or id 1 was read. Returns the page and the next cursor.
fn walk<T>(
    count: u64,
    cursor: Cursor,
    mut keep: impl FnMut(u64) -> Option<T>,
) -> (Vec<T>, Option<u64>) {
    let limit = cursor.limit.unwrap_or(MAX_LIST_PAGE).min(MAX_LIST_PAGE);
    let top = cursor
        .before
        .map_or(count, |b| b.saturating_sub(1))
        .min(count);
    let mut out = Vec::new();
    let mut id = top;
    let mut scanned = 0;
    while id >= 1 && (out.len() as u64) < limit && scanned < MAX_LIST_SCAN {
        out.extend(keep(id));
        scanned += 1;
        id -= 1;
    }
    // `id` is the next one to read; none is left below 1.
    (out, (id >= 1).then_some(id + 1))
}

/// A page of offers.
pub fn offers_page(state: &impl StateRead, cursor: Cursor, f: &OfferFilter) -> OffersPage {
    let count = records::offer_count(state);
    let (offers, next) = walk(count, cursor, |id| {
        let o = records::offer(state, id)?;
        let model_ok = f
            .gpu_model
            .as_ref()
            .is_none_or(|m| *m == o.terms.resources.gpu_model);
        let open_ok = f.open.is_none_or(|open| open != o.withdrawn);
        let machine_ok = f.machine_id.is_none_or(|m| m == o.machine_id);
        (model_ok && open_ok && machine_ok).then(|| OfferView::from(o))
    });
    OffersPage {
        count,
        offers,
        next,
    }
}

/// A page of jobs, of one status if `status` is given.
pub fn jobs_page(state: &impl StateRead, cursor: Cursor, status: Option<JobStatus>) -> JobsPage {
    let count = records::job_count(state);
    let (jobs, next) = walk(count, cursor, |id| {
        let j = records::job(state, id)?;
        status
            .is_none_or(|s| s == j.status)
            .then(|| JobView::from(j))
    });
    JobsPage { count, jobs, next }
}

#[derive(Deserialize)]
pub(crate) struct OffersQuery {
    before: Option<u64>,
    limit: Option<u64>,
    gpu_model: Option<String>,
    status: Option<String>,
    machine: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct JobsQuery {
    before: Option<u64>,
    limit: Option<u64>,
    status: Option<String>,
}

pub(crate) async fn get_offers<H: ReadHost>(
    axum::extract::State(h): axum::extract::State<H>,
    ApiQuery(q): ApiQuery<OffersQuery>,
) -> ApiResult<OffersPage> {
    let open = match q.status.as_deref() {
        None => None,
        Some("open") => Some(true),
        Some("withdrawn") => Some(false),
        Some(s) => {
            return Err(ApiError::bad_query(format!(
                "status: expected open or withdrawn, got `{}`",
                quote(s)
            )))
        }
    };
    let filter = OfferFilter {
        gpu_model: q.gpu_model,
        open,
        machine_id: q.machine,
    };
    let cursor = Cursor {
        before: q.before,
        limit: q.limit,
    };
    Ok(axum::Json(offers_page(&h.view().state, cursor, &filter)))
}

const JOB_STATUSES: [JobStatus; 5] = [
    JobStatus::Waiting,
    JobStatus::Leased,
    JobStatus::Paused,
    JobStatus::Closed,
    JobStatus::Failed,
];

pub(crate) async fn get_jobs<H: ReadHost>(
    axum::extract::State(h): axum::extract::State<H>,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<JobsPage> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            JOB_STATUSES
                .into_iter()
                .find(|j| j.name() == s)
                .ok_or_else(|| {
                    ApiError::bad_query(format!(
                        "status: expected waiting, leased, paused, closed or failed, got `{}`",
                        quote(s)
                    ))
                })?,
        ),
    };
    let cursor = Cursor {
        before: q.before,
        limit: q.limit,
    };
    Ok(axum::Json(jobs_page(&h.view().state, cursor, status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: u64, cursor: Cursor, keep: impl Fn(u64) -> bool) -> (Vec<u64>, Option<u64>) {
        walk(count, cursor, |id| keep(id).then_some(id))
    }

    #[test]
    fn a_walk_goes_newest_first_and_ends_without_a_cursor() {
        let c = Cursor {
            before: None,
            limit: Some(3),
        };
        assert_eq!(ids(5, c, |_| true), (vec![5, 4, 3], Some(3)));
        let c = Cursor {
            before: Some(3),
            limit: Some(3),
        };
        assert_eq!(ids(5, c, |_| true), (vec![2, 1], None));
        assert_eq!(ids(0, Cursor::default(), |_| true), (vec![], None));
    }

    #[test]
    fn a_cursor_above_the_count_starts_at_the_newest() {
        let c = Cursor {
            before: Some(1_000_000),
            limit: None,
        };
        assert_eq!(ids(2, c, |_| true), (vec![2, 1], None));
        let c = Cursor {
            before: Some(1),
            limit: None,
        };
        assert_eq!(ids(2, c, |_| true), (vec![], None));
    }

    #[test]
    fn the_limit_is_capped_by_the_page_bound() {
        let c = Cursor {
            before: None,
            limit: Some(10 * MAX_LIST_PAGE),
        };
        let (page, next) = ids(5 * MAX_LIST_PAGE, c, |_| true);
        assert_eq!(page.len() as u64, MAX_LIST_PAGE);
        assert_eq!(next, Some(4 * MAX_LIST_PAGE + 1));
    }

    #[test]
    fn a_filter_that_matches_little_stops_at_the_scan_bound_with_a_cursor() {
        let count = 3 * MAX_LIST_SCAN;
        // Only id 1 matches: the first page reads MAX_LIST_SCAN ids and finds none.
        let (page, next) = ids(count, Cursor::default(), |id| id == 1);
        assert!(page.is_empty());
        assert_eq!(next, Some(count - MAX_LIST_SCAN + 1));
        // Following the cursors finds it, and nothing is read twice.
        let mut cursor = next;
        let mut found = Vec::new();
        let mut pages = 1;
        while let Some(before) = cursor {
            let c = Cursor {
                before: Some(before),
                limit: None,
            };
            let (p, n) = ids(count, c, |id| id == 1);
            found.extend(p);
            cursor = n;
            pages += 1;
        }
        assert_eq!(found, vec![1]);
        assert_eq!(pages, 3);
    }
}

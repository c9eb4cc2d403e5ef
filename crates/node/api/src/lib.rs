//! Machina HTTP API: the node's `/v1` routes over a chain, plus `/metrics`. Every error, axum's
//! own rejections and unknown routes included, is JSON `{"code", "message"}`
//! (`machina_module_api`).

pub use machina_module_api::{
    body_limit, describe_json_error, error_json, error_surface, is_json, json_errors, quote,
    shorten_quoted, unknown_route, wrong_method, ApiBody, ApiError, ApiJson, ApiPath, ApiQuery,
    MAX_MESSAGE_BYTES, MAX_QUOTE_CHARS,
};
mod dev;
mod serve;
pub use serve::{
    bind, serve, HttpLimits, BODY_TIMEOUT, HEADER_TIMEOUT, LISTEN_BACKLOG, MAX_CONNECTIONS,
};
mod history;
mod machines;
pub use machines::{MachineIndex, MAX_CATCH_UP_BLOCKS, MAX_MACHINES_PAGE, SORT_KEYS};
mod observe;
pub use dev::{dev_router, DEV_ROUTES};
mod ui;
pub use ui::{UI_ASSETS, UI_ROUTES};
mod ws;

use machina_module_api::{parse_address, parse_id, Listed, ReadHost, View};

use axum::extract::{FromRef, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use machina_api_types::{
    BatchResult, BatchView, BlockView, HealthView, SubmitView, TxStatus, TxView,
};
use machina_chain::{Chain, SubmitError};
use machina_primitives::limits::MAX_TX_BYTES;
use machina_primitives::{Decode, Encode, Hash, Reader};
use machina_state::{AuthenticatedState, SparseMerkleTree};
use machina_stf::Transaction;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most transactions in one batch submission.
pub const MAX_BATCH_TXS: usize = 10_000;

/// Largest request body, `POST /v1/txs`: a full batch of transfers with room.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Largest body of `POST /v1/tx` and `/v1/tx/simulate`: the largest transaction
/// (`MAX_TX_BYTES`) in its JSON form, where hex doubles each byte and keys name each field.
pub const MAX_TX_BODY_BYTES: usize = 4 * machina_primitives::limits::MAX_TX_BYTES;

/// Largest body of every other route (small JSON commands; GET routes read none).
pub const MAX_SMALL_BODY_BYTES: usize = 64 * 1024;

/// Longest a client may ask `GET /v1/tx/{hash}` to wait for a receipt.
pub const MAX_WAIT_MS: u64 = 60_000;

const OPENAPI: &str = include_str!("openapi.json");

/// A refused submission as an API error, with the status that fits its code.
fn submit_error(e: SubmitError) -> ApiError {
    {
        let status = match e.code() {
            "oversize" => StatusCode::PAYLOAD_TOO_LARGE,
            "nonce_too_low" | "nonce_in_use" | "already_known" => StatusCode::CONFLICT,
            "mempool_full" | "sender_full" => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string()).from_module(e.module())
    }
}

type ApiResult = Result<Response, ApiError>;

/// The router's state: the chain, which node handlers take as `State<Arc<Chain>>` and module
/// handlers read through [`ReadHost`].
#[derive(Clone)]
pub struct ApiState(pub Arc<Chain>);

impl FromRef<ApiState> for Arc<Chain> {
    fn from_ref(s: &ApiState) -> Arc<Chain> {
        s.0.clone()
    }
}

impl ReadHost for ApiState {
    type State = SparseMerkleTree;

    fn view(&self) -> View<SparseMerkleTree> {
        let c = self.0.committed();
        View {
            state: c.state,
            height: c.head.height,
            timestamp_ms: c.head.timestamp_ms,
        }
    }

    fn view_with_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Listed<SparseMerkleTree>, ApiError> {
        // The store commits a block before the state in memory is swapped: the two agree but
        // for that moment, so a read that straddles a commit is taken again.
        for _ in 0..MAX_KEYS_READS {
            let view = self.view();
            let page = self
                .0
                .store()
                .state_keys(prefix, after, limit)
                .map_err(ApiError::internal)?;
            if page.height == view.height {
                return Ok(Listed {
                    view,
                    keys: page.keys,
                });
            }
            std::thread::yield_now();
        }
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "state_moving",
            format!("blocks were committed during each of {MAX_KEYS_READS} reads of the state's keys; try again"),
        ))
    }
}

/// Most times [`ReadHost::view_with_keys`] reads the store's keys to find them at the height
/// of the state in memory: a commit swaps the two within microseconds of each other.
const MAX_KEYS_READS: usize = 16;

/// Every route of the API: path, method and handler. The router is built from this table and
/// a test checks `openapi.json` against it, so the document cannot drift from the routes.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<ApiState>)> {
    let node = vec![
        ("/v1/health", "get", get(health)),
        (
            "/v1/tx",
            "post",
            body_limit(post(submit_one), MAX_TX_BODY_BYTES),
        ),
        (
            "/v1/txs",
            "post",
            body_limit(post(submit_batch), MAX_BODY_BYTES),
        ),
        (
            "/v1/tx/simulate",
            "post",
            body_limit(post(simulate), MAX_TX_BODY_BYTES),
        ),
        ("/v1/tx/{hash}", "get", get(get_tx)),
        ("/v1/account/{address}/proof", "get", get(get_account_proof)),
        ("/v1/block/{id}", "get", get(get_block)),
        ("/v1/machine/{id}", "get", get(get_machine)),
        ("/v1/machine/{id}/txs", "get", get(history::get_machine_txs)),
        (
            "/v1/account/{address}/txs",
            "get",
            get(history::get_account_txs),
        ),
        ("/v1/ws", "get", get(ws::upgrade)),
        ("/v1/consensus/validators", "get", get(consensus_validators)),
        ("/v1/machines", "get", get(machines::get_machines)),
        ("/v1/openapi.json", "get", get(openapi)),
        ("/metrics", "get", get(metrics)),
    ];
    // One line per module.
    node.into_iter()
        .chain(machina_bank::routes::routes())
        .chain(machina_identity::routes::routes())
        .chain(machina_wallet::routes::routes())
        .chain(machina_oracle::routes::routes())
        .chain(machina_energy::routes::routes())
        .chain(machina_staking::routes::routes())
        .chain(machina_compute::routes::routes())
        .chain(machina_shares::routes::routes())
        .chain(machina_evm::routes::routes())
        .chain(ui::routes())
        .collect()
}

/// The API's routes over a chain.
pub fn router(chain: Arc<Chain>) -> Router {
    let routes = routes()
        .into_iter()
        .fold(Router::new(), |r, (path, _, handler)| {
            r.route(path, handler)
        })
        .fallback(unknown_route)
        .layer(axum::Extension(Arc::new(MachineIndex::default())))
        .layer(axum::middleware::from_fn_with_state(
            chain.clone(),
            observe::track,
        ));
    error_surface(routes, MAX_SMALL_BODY_BYTES).with_state(ApiState(chain))
}

/// `GET /v1/consensus/validators`: on a validator, each validator's last notarize, nullify
/// and finalize vote as this node saw them; on a dev chain, that there is one producer.
async fn consensus_validators(State(chain): State<Arc<Chain>>) -> Json<Value> {
    Json(chain.consensus_view().unwrap_or_else(|| {
        json!({
            "consensus": "dev",
            "validators": [],
            "note": "a dev chain has one producer, and a block is final when it is committed",
        })
    }))
}

async fn health(State(chain): State<Arc<Chain>>) -> Json<HealthView> {
    let c = chain.committed();
    Json(HealthView {
        status: "ok".into(),
        chain_id: chain.chain_id(),
        height: c.head.height,
        state_root: c.head.state_root,
    })
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn metrics(State(chain): State<Arc<Chain>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        chain.render_metrics() + &observe::zone_metrics(&chain.committed().state),
    )
}

/// Parses one transaction: canonical bytes, or JSON when the content type says so.
/// A transaction that came as JSON, checked against every limit of the canonical decoder by a
/// round trip through it: JSON has no limits of its own, and nothing may be stored that the
/// canonical decoder would refuse to read back.
fn canonical(tx: Transaction) -> Result<Transaction, ApiError> {
    decode_tx(&tx.encode())
}

fn decode_tx(bytes: &[u8]) -> Result<Transaction, ApiError> {
    Transaction::decode_exact(bytes, MAX_TX_BYTES).map_err(|e| match e {
        machina_primitives::CodecError::Oversize { len, max } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "oversize",
            format!("transaction is {len} bytes, limit is {max}"),
        ),
        e => ApiError::malformed(e),
    })
}

fn json_body_error(e: serde_json::Error) -> ApiError {
    ApiError::malformed(describe_json_error(&e))
}

fn parse_one(headers: &HeaderMap, body: &[u8]) -> Result<Transaction, ApiError> {
    if is_json(headers) {
        return canonical(serde_json::from_slice(body).map_err(json_body_error)?);
    }
    decode_tx(body)
}

/// Parses a batch: a JSON array, or the canonical list encoding (a `u32` count, then each
/// transaction).
fn parse_batch(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Transaction>, ApiError> {
    let txs: Vec<Transaction> = if is_json(headers) {
        let txs: Vec<Transaction> = serde_json::from_slice(body).map_err(json_body_error)?;
        txs.into_iter().map(canonical).collect::<Result<_, _>>()?
    } else {
        let mut r = Reader::new(body);
        let txs = r.vec("batch", MAX_BATCH_TXS).map_err(ApiError::malformed)?;
        r.finish().map_err(ApiError::malformed)?;
        txs
    };
    if txs.len() > MAX_BATCH_TXS {
        return Err(ApiError::malformed(format!(
            "batch has {} transactions, limit is {MAX_BATCH_TXS}",
            txs.len()
        )));
    }
    Ok(txs)
}

async fn run_submit(
    chain: Arc<Chain>,
    txs: Vec<Transaction>,
) -> Result<Vec<Result<Hash, SubmitError>>, ApiError> {
    // Signature verification is CPU work on all cores: keep it off the async workers.
    let results = tokio::task::spawn_blocking(move || {
        let r = chain.submit_from_client(txs);
        chain
            .metrics
            .rejected(r.iter().filter(|x| x.is_err()).count());
        for e in r.iter().filter_map(|x| x.as_ref().err()) {
            chain.metrics.refused(e.code());
        }
        r
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(results)
}

async fn submit_one(
    State(chain): State<Arc<Chain>>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let tx = parse_one(&headers, &body)?;
    let mut results = run_submit(chain, vec![tx]).await?;
    let hash = results
        .pop()
        .expect("one result per transaction")
        .map_err(submit_error)?;
    Ok(Json(SubmitView { tx_hash: hash }).into_response())
}

async fn submit_batch(
    State(chain): State<Arc<Chain>>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let txs = parse_batch(&headers, &body)?;
    let results = run_submit(chain, txs).await?;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let results = results
        .into_iter()
        .map(|r| match r {
            Ok(tx_hash) => BatchResult::Admitted { tx_hash },
            Err(e) => BatchResult::Refused {
                code: e.code().to_owned(),
                // Capped as every rendered error is.
                message: error_json(e.code(), &e.to_string())["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                module: e.module().map(str::to_owned),
            },
        })
        .collect();
    Ok(Json(BatchView { accepted, results }).into_response())
}

/// `POST /v1/tx/simulate`: the receipt (with its events) a transaction would get in the
/// next block, charging nothing. Refused with the same codes as `POST /v1/tx` when it could not
/// be included at all.
async fn simulate(
    State(chain): State<Arc<Chain>>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let tx = parse_one(&headers, &body)?;
    let hash = tx.hash();
    let receipt = tokio::task::spawn_blocking(move || chain.simulate(tx))
        .await
        .map_err(ApiError::internal)?
        .map_err(submit_error)?;
    Ok(Json(json!({"tx_hash": hash, "simulated": true, "receipt": receipt})).into_response())
}

async fn get_account_proof(
    State(chain): State<Arc<Chain>>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult {
    let addr = parse_address(&address).map_err(ApiError::bad_path)?;
    let c = chain.committed();
    let key = machina_bank::account_state_key(&addr);
    let acct = machina_bank::account(&c.state, &addr);
    Ok(Json(json!({
        "address": addr,
        "balance": acct.balance,
        "nonce": acct.nonce,
        "height": c.head.height,
        "state_root": c.head.state_root,
        "key": format!("0x{}", hex::encode(&key)),
        "value": machina_state::StateRead::get(&c.state, &key).map(|v| format!("0x{}", hex::encode(&v))),
        "proof": c.state.prove(&key),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct BlockQuery {
    #[serde(default)]
    receipts: bool,
}

async fn get_block(
    State(chain): State<Arc<Chain>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<BlockQuery>,
) -> ApiResult {
    let height = if id == "latest" {
        chain.committed().head.height
    } else if let Some(h) = Hash::from_hex(&id).filter(|_| id.len() > 20) {
        chain
            .store()
            .height_of(&h)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("no block with hash {}", quote(&id))))?
    } else {
        id.parse::<u64>().map_err(|_| {
            ApiError::bad_path(format!(
                "expected a height, a block hash or `latest`, got `{}`",
                quote(&id)
            ))
        })?
    };
    let header = chain
        .store()
        .header(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    let txs = chain
        .store()
        .block_tx_hashes(height)
        .map_err(ApiError::internal)?;
    let events = chain
        .store()
        .block_events(height)
        .map_err(ApiError::internal)?;
    let view = BlockView::new(&header, txs, events);
    if q.receipts {
        let mut v = json!(view);
        v["receipts"] = Value::Array(history::receipts(&chain, &view)?);
        return Ok(Json(v).into_response());
    }
    Ok(Json(view).into_response())
}

#[derive(Deserialize)]
struct WaitQuery {
    wait_ms: Option<u64>,
}

async fn get_tx(
    State(chain): State<Arc<Chain>>,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> ApiResult {
    let hash = Hash::from_hex(&hash)
        .ok_or_else(|| ApiError::bad_path(format!("not a 32-byte hex hash: {}", quote(&hash))))?;
    let deadline = Instant::now() + Duration::from_millis(q.wait_ms.unwrap_or(0).min(MAX_WAIT_MS));
    let mut heights = chain.subscribe();
    loop {
        // Pending is read before the store: a transaction leaves the mempool only after its
        // block is stored, so "not pending, then not stored" means unknown.
        let pending = chain.is_pending(&hash);
        if let Some(rec) = chain.store().tx(&hash).map_err(ApiError::internal)? {
            return Ok(Json(TxView {
                tx_hash: hash,
                status: TxStatus::Committed,
                height: Some(rec.height),
                index: Some(rec.index),
                tx: Some(rec.tx),
                receipt: Some(rec.receipt),
            })
            .into_response());
        }
        if !pending {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Json(TxView {
                tx_hash: hash,
                status: TxStatus::Pending,
                height: None,
                index: None,
                tx: None,
                receipt: None,
            })
            .into_response());
        }
        let _ = tokio::time::timeout(deadline - now, heights.changed()).await;
    }
    Err(ApiError::not_found(format!(
        "transaction {hash} is neither committed nor pending"
    )))
}

fn machine_json(state: &SparseMerkleTree, m: &machina_identity::Machine) -> Value {
    let mut v = json!(m);
    let readings = machina_oracle::stats(state, m.machine_id);
    v["reputation"]["readings_accepted"] = json!(readings.readings_accepted);
    v["reputation"]["readings_rejected"] = json!(readings.readings_rejected);
    v["attested_by_name"] = json!(m
        .attested_by
        .and_then(|k| machina_identity::manufacturer(state, &k)));
    v
}

fn find_machine(state: &SparseMerkleTree, id: &str) -> Result<machina_identity::Machine, ApiError> {
    let id = parse_id(id)?;
    machina_identity::machine(state, id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_machine",
            format!("no machine with id {id}"),
        )
    })
}

async fn get_machine(State(chain): State<Arc<Chain>>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let state = chain.committed().state;
    let m = find_machine(&state, &id)?;
    Ok(Json(machine_json(&state, &m)).into_response())
}

/// The route a simulated-clock dev chain adds: `POST /v1/dev/advance {"timestamp_ms": T}`
/// produces one block at chain time T with what the mempool holds.
pub fn sim_clock_router(chain: Arc<Chain>) -> Router {
    let routes = Router::new().route(SIM_CLOCK_ROUTE, post(advance));
    error_surface(routes, MAX_SMALL_BODY_BYTES).with_state(chain)
}

/// The path of the simulated clock's route.
pub const SIM_CLOCK_ROUTE: &str = "/v1/dev/advance";

#[derive(Deserialize)]
struct Advance {
    timestamp_ms: u64,
}

/// Latest time a simulated clock may be set to (1 January 2500): far from any overflow of the
/// time arithmetic that follows a block's timestamp.
const MAX_SIM_TIME_MS: u64 = 16_725_225_600_000;

async fn advance(State(chain): State<Arc<Chain>>, ApiJson(a): ApiJson<Advance>) -> ApiResult {
    if a.timestamp_ms > MAX_SIM_TIME_MS {
        return Err(ApiError::malformed(format!(
            "timestamp {} is past the year 2500",
            a.timestamp_ms
        )));
    }
    let (height, txs) =
        tokio::task::spawn_blocking(move || chain.produce_block_or_abort(a.timestamp_ms))
            .await
            .map_err(ApiError::internal)?;
    Ok(Json(json!({"height": height, "tx_count": txs})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn documented() -> Value {
        serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc = documented();
        let mut served: BTreeSet<(String, String)> = routes()
            .into_iter()
            .map(|(p, m, _)| (p.to_owned(), m.to_owned()))
            .collect();
        served.insert((SIM_CLOCK_ROUTE.to_owned(), "post".to_owned()));
        for r in DEV_ROUTES {
            served.insert((r.to_owned(), "post".to_owned()));
        }
        let listed: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(p, item)| {
                let p = p.clone();
                item.as_object()
                    .expect("path item")
                    .keys()
                    .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                    .map(move |m| (p.clone(), m.clone()))
            })
            .collect();
        assert_eq!(served, listed, "openapi.json and the router disagree");
    }

    #[test]
    fn the_action_schema_names_every_action_of_every_module() {
        let doc = documented();
        let schema = &doc["components"]["schemas"]["Action"];
        let listed: BTreeSet<&str> = schema["properties"]["type"]["enum"]
            .as_array()
            .expect("an enum of action types")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let names: BTreeSet<&str> = machina_stf::MODULES
            .iter()
            .flat_map(|m| m.actions.iter().map(|(_, n)| *n))
            .collect();
        assert_eq!(
            listed, names,
            "openapi.json's Action types and the modules disagree"
        );
        let about = schema["description"].as_str().expect("a description");
        for n in names {
            assert!(
                about.contains(&format!(" {n} {{")),
                "the Action description does not give {n}'s fields"
            );
        }
    }

    #[test]
    fn every_hash_address_and_key_parameter_has_a_pattern() {
        let doc = documented();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for op in item.as_object().expect("item").values() {
                for param in op["parameters"].as_array().into_iter().flatten() {
                    let name = param["name"].as_str().unwrap_or("");
                    if ["hash", "address", "key", "sponsor", "grantee", "owner"].contains(&name) {
                        assert!(
                            param["schema"]["pattern"].is_string(),
                            "{path}: parameter {name} has no pattern"
                        );
                    }
                }
            }
        }
    }

    /// Each error response of an operation, resolved through `components/responses`.
    fn error_responses(doc: &Value, op: &Value) -> Vec<(String, Value)> {
        let ops = op["responses"].as_object().expect("responses");
        ops.iter()
            // 1xx (the WebSocket upgrade) and 2xx are not errors.
            .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
            .map(|(status, r)| {
                let r = match r["$ref"].as_str() {
                    Some(name) => {
                        let name = name.trim_start_matches("#/components/responses/");
                        doc["components"]["responses"][name].clone()
                    }
                    None => r.clone(),
                };
                (status.clone(), r)
            })
            .collect()
    }

    #[test]
    fn every_documented_route_documents_its_errors_as_the_error_schema() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/v1/dev/advance"));
        for (path, ops) in paths {
            for (method, op) in ops.as_object().expect("operations") {
                let errors = error_responses(&doc, op);
                let has = |s: &str| errors.iter().any(|(status, _)| status == s);
                assert!(has("405"), "{method} {path} lacks 405");
                if method == "post" {
                    assert!(has("413"), "{method} {path} lacks 413");
                }
                if path.contains('{') {
                    assert!(has("400"), "{method} {path} lacks 400 bad_path");
                }
                for (status, r) in errors {
                    let schema = &r["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                    let described = r["description"].as_str().unwrap_or("");
                    assert!(!described.is_empty(), "{method} {path} {status}");
                }
            }
        }
    }
}

//! Machina HTTP API: the node's `/v1` routes over a chain, plus `/metrics`. Every error, axum's
//! own rejections and unknown routes included, is JSON `{"code", "message"}`
//! (`machina_module_api`).

pub use machina_module_api::{
    describe_json_error, error_json, error_surface, is_json, json_errors, quote, shorten_quoted,
    unknown_route, wrong_method, ApiBody, ApiError, ApiJson, ApiPath, ApiQuery, MAX_MESSAGE_BYTES,
    MAX_QUOTE_CHARS,
};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use machina_chain::{Chain, SubmitError};
use machina_primitives::limits::MAX_TX_BYTES;
use machina_primitives::{Address, BlockHeader, Decode, Encode, Hash, PublicKey, Reader};
use machina_state::{AuthenticatedState, SparseMerkleTree};
use machina_stf::Transaction;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most transactions in one batch submission.
pub const MAX_BATCH_TXS: usize = 10_000;

/// Largest request body: a full batch of transfers with room.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

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
        ApiError::new(status, e.code(), e.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

/// Every route of the API: path, method and handler. The router is built from this table and
/// a test checks `openapi.json` against it, so the document cannot drift from the routes.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<Arc<Chain>>)> {
    vec![
        ("/v1/health", "get", get(health)),
        ("/v1/tx", "post", post(submit_one)),
        ("/v1/txs", "post", post(submit_batch)),
        ("/v1/tx/{hash}", "get", get(get_tx)),
        ("/v1/account/{address}", "get", get(get_account)),
        ("/v1/account/{address}/proof", "get", get(get_account_proof)),
        ("/v1/account/{address}/auth", "get", get(get_account_auth)),
        ("/v1/block/{id}", "get", get(get_block)),
        ("/v1/machine/{id}", "get", get(get_machine)),
        ("/v1/machines", "get", get(get_machines)),
        ("/v1/wallet/{machine_id}", "get", get(get_wallet)),
        ("/v1/session/{address}/{key}", "get", get(get_session)),
        (
            "/v1/allowance/{sponsor}/{grantee}",
            "get",
            get(get_allowance),
        ),
        ("/v1/manufacturer/{key}", "get", get(get_manufacturer)),
        ("/v1/meter/{id}", "get", get(get_meter)),
        ("/v1/meter/{id}/energy", "get", get(get_meter_energy)),
        ("/v1/feed/{name}", "get", get(get_feed)),
        ("/v1/energy/zones", "get", get(get_zones)),
        ("/v1/energy/zone/{name}", "get", get(get_zone)),
        (
            "/v1/energy/zone/{name}/interval/{start}",
            "get",
            get(get_interval),
        ),
        ("/v1/energy/zone/{name}/order/{id}", "get", get(get_order)),
        (
            "/v1/energy/machine/{id}/orders",
            "get",
            get(get_machine_orders),
        ),
        ("/v1/openapi.json", "get", get(openapi)),
        ("/metrics", "get", get(metrics)),
    ]
}

/// The API's routes over a chain.
pub fn router(chain: Arc<Chain>) -> Router {
    let routes = routes()
        .into_iter()
        .fold(Router::new(), |r, (path, _, handler)| {
            r.route(path, handler)
        })
        .fallback(unknown_route);
    error_surface(routes, MAX_BODY_BYTES).with_state(chain)
}

async fn health(State(chain): State<Arc<Chain>>) -> Json<Value> {
    let c = chain.committed();
    Json(json!({
        "status": "ok",
        "chain_id": chain.chain_id(),
        "height": c.head.height,
        "state_root": c.head.state_root,
    }))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn metrics(State(chain): State<Arc<Chain>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        chain.render_metrics(),
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
    Ok(Json(json!({"tx_hash": hash})).into_response())
}

async fn submit_batch(
    State(chain): State<Arc<Chain>>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let txs = parse_batch(&headers, &body)?;
    let results = run_submit(chain, txs).await?;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(h) => json!({"tx_hash": h}),
            Err(e) => error_json(e.code(), &e.to_string()),
        })
        .collect();
    Ok(Json(json!({"accepted": accepted, "results": results})).into_response())
}

/// Parses a 20-byte hex address; the error is a sentence the caller files as `bad_path` or
/// `bad_query`.
fn parse_address(s: &str) -> Result<Address, String> {
    Address::from_hex(s).ok_or_else(|| format!("not a 20-byte hex address: {}", quote(s)))
}

async fn get_account(
    State(chain): State<Arc<Chain>>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult {
    let addr = parse_address(&address).map_err(ApiError::bad_path)?;
    let acct = machina_bank::account(&chain.committed().state, &addr);
    Ok(
        Json(json!({"address": addr, "balance": acct.balance, "nonce": acct.nonce}))
            .into_response(),
    )
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

fn block_json(header: &BlockHeader, txs: &[Hash], events: &[machina_primitives::Event]) -> Value {
    json!({
        "height": header.height,
        "hash": header.hash(),
        "parent_hash": header.parent_hash,
        "chain_id": header.chain_id,
        "timestamp_ms": header.timestamp_ms,
        "proposer": header.proposer,
        "state_root": header.state_root,
        "tx_root": header.tx_root,
        "receipts_root": header.receipts_root,
        "tx_count": txs.len(),
        "txs": txs,
        "events": events,
    })
}

async fn get_block(State(chain): State<Arc<Chain>>, ApiPath(id): ApiPath<String>) -> ApiResult {
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
    Ok(Json(block_json(&header, &txs, &events)).into_response())
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
            return Ok(Json(json!({
                "tx_hash": hash,
                "status": "committed",
                "height": rec.height,
                "index": rec.index,
                "tx": rec.tx,
                "receipt": rec.receipt,
            }))
            .into_response());
        }
        if !pending {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Json(json!({"tx_hash": hash, "status": "pending"})).into_response());
        }
        let _ = tokio::time::timeout(deadline - now, heights.changed()).await;
    }
    Err(ApiError::not_found(format!(
        "transaction {hash} is neither committed nor pending"
    )))
}

async fn get_account_auth(
    State(chain): State<Arc<Chain>>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult {
    let addr = parse_address(&address).map_err(ApiError::bad_path)?;
    let acct = machina_bank::account(&chain.committed().state, &addr);
    Ok(Json(json!({"address": addr, "auth": acct.auth})).into_response())
}

fn parse_key(s: &str) -> Result<PublicKey, ApiError> {
    let b = s.strip_prefix("0x").unwrap_or(s);
    let mut k = [0u8; 32];
    hex::decode_to_slice(b, &mut k)
        .map_err(|_| ApiError::bad_path(format!("not a 32-byte hex public key: {}", quote(s))))?;
    Ok(PublicKey(k))
}

fn parse_id(s: &str) -> Result<u64, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_path(format!("not a machine id: {}", quote(s))))
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

#[derive(Deserialize)]
struct MachinesQuery {
    owner: String,
    offset: Option<u64>,
    limit: Option<u64>,
}

async fn get_machines(
    State(chain): State<Arc<Chain>>,
    ApiQuery(q): ApiQuery<MachinesQuery>,
) -> ApiResult {
    let owner = parse_address(&q.owner).map_err(|e| ApiError::bad_query(format!("owner: {e}")))?;
    let state = chain.committed().state;
    let offset = q.offset.unwrap_or(0);
    let limit = q
        .limit
        .unwrap_or(machina_identity::MAX_PAGE)
        .min(machina_identity::MAX_PAGE);
    let (page, total) = machina_identity::machines_of(&state, &owner, offset, limit);
    let machines: Vec<Value> = page.iter().map(|m| machine_json(&state, m)).collect();
    Ok(Json(json!({"owner": owner, "total": total, "offset": offset, "limit": limit, "machines": machines})).into_response())
}

async fn get_wallet(State(chain): State<Arc<Chain>>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let state = chain.committed().state;
    let m = find_machine(&state, &id)?;
    let w = machina_wallet::wallet(&state, &m.address).unwrap_or_default();
    let balance = machina_bank::account(&state, &m.address).balance;
    Ok(Json(json!({
        "machine_id": m.machine_id,
        "address": m.address,
        "balance": balance,
        "policy": w.policy,
        "frozen": w.frozen,
        "spent": machina_wallet::spend_state(&state, &m.address),
        "policy_breaches": m.reputation.policy_breaches,
    }))
    .into_response())
}

async fn get_session(
    State(chain): State<Arc<Chain>>,
    ApiPath((address, key)): ApiPath<(String, String)>,
) -> ApiResult {
    let addr = parse_address(&address).map_err(ApiError::bad_path)?;
    let key = parse_key(&key)?;
    let s = machina_wallet::session(&chain.committed().state, &addr, &key)
        .ok_or_else(|| ApiError::not_found(format!("no session key {key:?} on {addr}")))?;
    Ok(Json(json!({"address": addr, "key": key, "session": s})).into_response())
}

async fn get_allowance(
    State(chain): State<Arc<Chain>>,
    ApiPath((sponsor, grantee)): ApiPath<(String, String)>,
) -> ApiResult {
    let sponsor = parse_address(&sponsor).map_err(ApiError::bad_path)?;
    let grantee = parse_address(&grantee).map_err(ApiError::bad_path)?;
    let a = machina_wallet::allowance(&chain.committed().state, &sponsor, &grantee).ok_or_else(
        || ApiError::not_found(format!("{sponsor} has no fee allowance for {grantee}")),
    )?;
    Ok(Json(json!({"sponsor": sponsor, "grantee": grantee, "remaining": a.remaining, "expiry_height": a.expiry_height})).into_response())
}

async fn get_manufacturer(
    State(chain): State<Arc<Chain>>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult {
    let key = parse_key(&key)?;
    let name = machina_identity::manufacturer(&chain.committed().state, &key)
        .ok_or_else(|| ApiError::not_found("no manufacturer with this key"))?;
    Ok(Json(json!({"key": key, "name": name})).into_response())
}

#[derive(Deserialize)]
struct MeterQuery {
    channel: Option<u16>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
}

fn oracle_error(e: machina_oracle::OracleError) -> ApiError {
    let status = match e {
        machina_oracle::OracleError::UnknownMachine(_)
        | machina_oracle::OracleError::UnknownFeed(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.code(), e.to_string())
}

async fn get_meter(
    State(chain): State<Arc<Chain>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MeterQuery>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let channel = q.channel.unwrap_or(0);
    let log = machina_oracle::meter_log(&chain.committed().state, id, channel);
    let last = log
        .last
        .ok_or_else(|| oracle_error(machina_oracle::OracleError::NoReadings(id)))?;
    Ok(Json(json!({
        "machine_id": id,
        "channel": channel,
        "seq": last.seq,
        "timestamp_ms": last.timestamp_ms,
        "import_wh": last.import_wh,
        "export_wh": last.export_wh,
        "readings_kept": log.head - log.tail,
    }))
    .into_response())
}

async fn get_meter_energy(
    State(chain): State<Arc<Chain>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MeterQuery>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let channel = q.channel.unwrap_or(0);
    let (Some(from_ms), Some(to_ms)) = (q.from_ms, q.to_ms) else {
        return Err(ApiError::bad_query("from_ms and to_ms are required"));
    };
    let e = machina_oracle::energy_between(&chain.committed().state, id, channel, from_ms, to_ms)
        .map_err(oracle_error)?;
    Ok(Json(json!({
        "machine_id": id,
        "channel": channel,
        "from_ms": from_ms,
        "to_ms": to_ms,
        "import_wh": e.import_wh,
        "export_wh": e.export_wh,
    }))
    .into_response())
}

async fn get_feed(State(chain): State<Arc<Chain>>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let c = chain.committed();
    let f = machina_oracle::feed(&c.state, &name)
        .ok_or_else(|| oracle_error(machina_oracle::OracleError::UnknownFeed(quote(&name))))?;
    let stale = machina_oracle::feed_value(&c.state, &name, c.head.timestamp_ms).is_err();
    Ok(Json(json!({
        "name": name,
        "value": f.value,
        "open_round": f.round,
        "updated_ms": f.updated_ms,
        "stale": stale,
        "config": f.config,
        "bonds": f.bonds,
    }))
    .into_response())
}

async fn get_zones(State(chain): State<Arc<Chain>>) -> ApiResult {
    let zones = machina_energy::market::zones(&chain.committed().state);
    Ok(Json(json!({"zones": zones})).into_response())
}

fn energy_not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
}

async fn get_zone(State(chain): State<Arc<Chain>>, ApiPath(name): ApiPath<String>) -> ApiResult {
    let state = chain.committed().state;
    let z = machina_energy::market::zone(&state, &name)
        .ok_or_else(|| energy_not_found(format!("no zone named {}", quote(&name))))?;
    Ok(Json(json!({
        "zone": z,
        "escrow_account": machina_energy::market::escrow_address(&name),
        "grid_account": machina_energy::market::grid_address(&name),
        "fee_account": machina_energy::market::fee_address(&name),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct BookQuery {
    orders: Option<bool>,
}

async fn get_interval(
    State(chain): State<Arc<Chain>>,
    ApiPath((name, start)): ApiPath<(String, u64)>,
    ApiQuery(q): ApiQuery<BookQuery>,
) -> ApiResult {
    let state = chain.committed().state;
    let z = machina_energy::market::zone(&state, &name)
        .ok_or_else(|| energy_not_found(format!("no zone named {}", quote(&name))))?;
    let step = z.config.interval_ms;
    if start % step != 0 {
        // An unaligned start names no interval: say so rather than show an empty one.
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_interval",
            format!(
                "{start} is not the start of an interval of zone {}: intervals start at multiples of {step} ms, e.g. {}",
                quote(&name),
                start / step * step
            ),
        ));
    }
    let iv = machina_energy::market::interval(&state, &name, start);
    let mut v = json!({"zone": name, "interval_start_ms": start, "interval": iv});
    if q.orders.unwrap_or(true) {
        v["orders"] = json!(machina_energy::market::orders_of(&state, &name, start));
    }
    Ok(Json(v).into_response())
}

async fn get_order(
    State(chain): State<Arc<Chain>>,
    ApiPath((name, id)): ApiPath<(String, u64)>,
) -> ApiResult {
    let o = machina_energy::market::order(&chain.committed().state, &name, id)
        .ok_or_else(|| energy_not_found(format!("no order {id} in zone {}", quote(&name))))?;
    Ok(Json(json!(o)).into_response())
}

#[derive(Deserialize)]
struct TradesQuery {
    from_ms: u64,
    to_ms: u64,
}

/// Most intervals one trades query scans: a day of 15-minute intervals, several times over.
const MAX_TRADE_INTERVALS: u64 = 1_000;

async fn get_machine_orders(
    State(chain): State<Arc<Chain>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TradesQuery>,
) -> ApiResult {
    let state = chain.committed().state;
    let m = find_machine(&state, &id)?;
    let zone = m
        .zone
        .clone()
        .ok_or_else(|| energy_not_found(format!("machine {} belongs to no zone", m.machine_id)))?;
    let z = machina_energy::market::zone(&state, &zone)
        .ok_or_else(|| energy_not_found(format!("no zone named {zone}")))?;
    let step = z.config.interval_ms;
    let first = q.from_ms / step * step;
    if q.to_ms < first || (q.to_ms - first) / step > MAX_TRADE_INTERVALS {
        return Err(ApiError::bad_query(format!(
            "from_ms..to_ms must span at most {MAX_TRADE_INTERVALS} intervals"
        )));
    }
    let id = m.machine_id;
    // Only intervals the machine placed orders in are read in full.
    let orders: Vec<_> = (0..=(q.to_ms - first) / step)
        .map(|i| first + i * step)
        .filter(|start| machina_energy::market::machine_order_count(&state, &zone, *start, id) > 0)
        .flat_map(|start| machina_energy::market::orders_of(&state, &zone, start))
        .filter(|o| o.machine_id == m.machine_id)
        .collect();
    Ok(Json(json!({"machine_id": m.machine_id, "zone": zone, "orders": orders})).into_response())
}

/// The route a simulated-clock dev chain adds: `POST /v1/dev/advance {"timestamp_ms": T}`
/// produces one block at chain time T with what the mempool holds.
pub fn sim_clock_router(chain: Arc<Chain>) -> Router {
    let routes = Router::new().route(SIM_CLOCK_ROUTE, post(advance));
    error_surface(routes, MAX_BODY_BYTES).with_state(chain)
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
            .filter(|(status, _)| !status.starts_with('2'))
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

//! The evm module's HTTP routes and their response types (shared with the CLI). Calls and
//! everything Ethereum tools ask are on the node's Ethereum JSON-RPC.

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use machina_module_api::{parse_address, ApiError, ApiPath, ApiResult, ReadHost, Routes};
use machina_primitives::{Address, Hash};
use serde::{Deserialize, Serialize};

/// `GET /v1/evm/code/{address}`: a contract's code.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeView {
    /// The account.
    pub address: Address,
    /// Its code, 0x-hex (empty for an account without code).
    pub code: String,
    /// Size of the code, bytes.
    pub size: usize,
    /// keccak-256 of the code (of nothing, for an account without code).
    pub code_hash: Hash,
}

/// The evm module's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![("/v1/evm/code/{address}", "get", get(get_code::<H>))]
}

async fn get_code<H: ReadHost>(
    State(h): State<H>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<CodeView> {
    let address = parse_address(&address).map_err(ApiError::bad_path)?;
    let code = crate::code(&h.view().state, &address);
    Ok(Json(CodeView {
        address,
        size: code.len(),
        code_hash: Hash(alloy_primitives::keccak256(&code).0),
        code: format!("0x{}", hex::encode(&code)),
    }))
}

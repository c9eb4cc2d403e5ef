//! The canonical encoding of every action and stored record, pinned.
//!
//! `golden/codec.json` lists samples in their JSON form with the hex of their canonical
//! encoding. Each sample must encode to exactly those bytes and decode back to the same value:
//! a change of encoding (which changes transaction ids and the state root) cannot happen by
//! accident. To add samples, add entries without `hex` and run with `MACHINA_BLESS=1`.

use machina_primitives::limits::MAX_TX_BYTES;
use machina_primitives::{Decode, Encode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Debug;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/codec.json");

/// Encodes the sample's JSON form; checks the decoding of those bytes gives the same value.
fn encode_sample<T>(json: &Value) -> Result<Vec<u8>, String>
where
    T: DeserializeOwned + Serialize + Encode + Decode + PartialEq + Debug,
{
    let value: T = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
    let bytes = value.encode();
    let back = T::decode_exact(&bytes, MAX_TX_BYTES).map_err(|e| e.to_string())?;
    if back != value {
        return Err(format!("decoding gave {back:?}, not {value:?}"));
    }
    let json_back = serde_json::to_value(&back).map_err(|e| e.to_string())?;
    let again: T = serde_json::from_value(json_back).map_err(|e| e.to_string())?;
    if again != value {
        return Err("the JSON form does not round-trip".into());
    }
    Ok(bytes)
}

fn encode_any(ty: &str, json: &Value) -> Result<Vec<u8>, String> {
    use machina_primitives as p;
    match ty {
        "Action" => encode_sample::<machina_stf::Action>(json),
        "Transaction" => encode_sample::<machina_stf::Transaction>(json),
        "Block" => encode_sample::<machina_stf::Block>(json),
        "BlockHeader" => encode_sample::<p::BlockHeader>(json),
        "Receipt" => encode_sample::<p::Receipt>(json),
        "Event" => encode_sample::<p::Event>(json),
        "Params" => encode_sample::<machina_stf::Params>(json),
        "Account" => encode_sample::<machina_bank::Account>(json),
        "Machine" => encode_sample::<machina_identity::Machine>(json),
        "Wallet" => encode_sample::<machina_wallet::WalletRecord>(json),
        "SpendState" => encode_sample::<machina_wallet::SpendState>(json),
        "Session" => encode_sample::<machina_wallet::Session>(json),
        "Allowance" => encode_sample::<machina_wallet::Allowance>(json),
        "Feed" => encode_sample::<machina_oracle::Feed>(json),
        "Point" => encode_sample::<machina_oracle::meter::Point>(json),
        "MeterLog" => encode_sample::<machina_oracle::meter::MeterLog>(json),
        "ReadingStats" => encode_sample::<machina_oracle::meter::ReadingStats>(json),
        "OracleParams" => encode_sample::<machina_oracle::OracleParams>(json),
        "Zone" => encode_sample::<machina_energy::Zone>(json),
        "Interval" => encode_sample::<machina_energy::Interval>(json),
        "OrderRec" => encode_sample::<machina_energy::OrderRec>(json),
        "Unbonding" => encode_sample::<machina_staking::Unbonding>(json),
        "StakingParams" => encode_sample::<machina_staking::StakingParams>(json),
        "Stake" => encode_sample::<machina_staking::Stake>(json),
        "StakeAccount" => encode_sample::<machina_staking::Account>(json),
        "ComputeOffer" => encode_sample::<machina_compute::Offer>(json),
        "ComputeJob" => encode_sample::<machina_compute::Job>(json),
        "ComputeParams" => encode_sample::<machina_compute::ComputeParams>(json),
        "ShareClass" => encode_sample::<machina_shares::ShareClass>(json),
        "SharePosition" => encode_sample::<machina_shares::Position>(json),
        "RevenueRecord" => encode_sample::<machina_shares::RevenueRecord>(json),
        other => Err(format!("no type {other} in the conformance table")),
    }
}

#[test]
fn every_sample_encodes_to_its_pinned_bytes() {
    let text = std::fs::read_to_string(GOLDEN).expect("read golden/codec.json");
    let mut samples: Vec<Value> = serde_json::from_str(&text).expect("golden/codec.json is JSON");
    let bless = std::env::var("MACHINA_BLESS").is_ok();
    let mut failures = Vec::new();
    for s in &mut samples {
        let name = s["name"].as_str().unwrap_or("?").to_owned();
        let ty = s["type"].as_str().unwrap_or("?").to_owned();
        match encode_any(&ty, &s["json"]) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(bytes) => {
                let got = hex::encode(&bytes);
                match s["hex"].as_str() {
                    Some(pinned) if pinned == got => {}
                    _ if bless => s["hex"] = Value::String(got),
                    Some(pinned) => failures.push(format!("{name}: pinned {pinned}, got {got}")),
                    None => failures.push(format!("{name}: no pinned hex (MACHINA_BLESS=1)")),
                }
            }
        }
    }
    if bless && failures.is_empty() {
        let out = serde_json::to_string_pretty(&samples).expect("serialize samples");
        std::fs::write(GOLDEN, out + "\n").expect("write golden/codec.json");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_action_kind_has_a_sample() {
    let text = std::fs::read_to_string(GOLDEN).expect("read golden/codec.json");
    let samples: Vec<Value> = serde_json::from_str(&text).expect("golden/codec.json is JSON");
    let kinds: std::collections::BTreeSet<&str> = samples
        .iter()
        .filter(|s| s["type"] == "Action")
        .filter_map(|s| s["json"]["type"].as_str())
        .collect();
    let names: std::collections::BTreeSet<&str> = machina_stf::MODULES
        .iter()
        .flat_map(|m| m.actions.iter().map(|(_, n)| *n))
        .collect();
    assert_eq!(kinds, names, "one sample per action kind");
}

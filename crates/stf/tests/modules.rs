//! The module list: ids, names, action tags and action names are distinct, and every action's
//! codec round-trips whatever bytes it accepts.

use machina_primitives::limits::MAX_TX_BYTES;
use machina_primitives::{Decode, Encode};
use machina_stf::{Action, MODULES};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn module_ids_names_and_action_tags_are_distinct() {
    let ids: BTreeSet<u8> = MODULES.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), MODULES.len(), "module ids collide");
    let names: BTreeSet<&str> = MODULES.iter().map(|m| m.name).chain(["stf"]).collect();
    assert_eq!(names.len(), MODULES.len() + 1, "module names collide");
    let tags: Vec<u8> = MODULES
        .iter()
        .flat_map(|m| m.actions.iter().map(|a| a.0))
        .collect();
    let distinct: BTreeSet<u8> = tags.iter().copied().collect();
    assert_eq!(distinct.len(), tags.len(), "action tags collide: {tags:?}");
    let action_names: Vec<&str> = MODULES
        .iter()
        .flat_map(|m| m.actions.iter().map(|a| a.1))
        .collect();
    let distinct: BTreeSet<&str> = action_names.iter().copied().collect();
    assert_eq!(distinct.len(), action_names.len(), "action names collide");
}

#[test]
fn every_error_code_is_owned_by_one_module_or_the_stf() {
    let mut owner: std::collections::BTreeMap<&str, &str> = BTreeMap::new();
    let lists = MODULES
        .iter()
        .map(|m| (m.name, m.error_codes))
        .chain([("stf", machina_stf::TxError::CODES)]);
    for (name, codes) in lists {
        assert!(!codes.is_empty(), "{name} lists no error codes");
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}: code {code} is not snake_case"
            );
            if let Some(other) = owner.insert(code, name) {
                panic!("error code {code} is owned by both {other} and {name}");
            }
        }
    }
}

#[test]
fn every_action_name_is_known_and_others_are_not() {
    for m in MODULES {
        for (_, name) in m.actions {
            assert!(Action::is_action_name(name), "{name}");
        }
    }
    assert!(!Action::is_action_name("transfer_everything"));
}

#[test]
fn an_unknown_action_tag_or_type_is_refused() {
    assert!(Action::decode_exact(&[0xff], 16).is_err());
    let v = serde_json::json!({"type": "mint", "amount": "1"});
    let e = serde_json::from_value::<Action>(v).expect_err("mint is no action");
    assert!(e.to_string().contains("no action is called"), "{e}");
}

#[test]
fn the_state_keys_of_a_genesis_belong_to_modules() {
    let g = machina_stf::Genesis::dev(1, 0, vec![]);
    machina_testkit::assert_keys_owned(&g.changes().expect("genesis"));
}

/// The pinned encodings of every action, from the conformance file.
fn golden_actions() -> Vec<Vec<u8>> {
    let text = include_str!("golden/codec.json");
    let samples: Vec<Value> = serde_json::from_str(text).expect("golden is JSON");
    samples
        .iter()
        .filter(|s| s["type"] == "Action")
        .map(|s| hex::decode(s["hex"].as_str().expect("pinned hex")).expect("hex"))
        .collect()
}

proptest! {
    /// Any bytes an action's decoder accepts encode back to exactly those bytes (one value,
    /// one encoding), and the JSON form carries the same value: tried on every action kind by
    /// corrupting its pinned encoding at random places.
    #[test]
    fn every_action_round_trips_whatever_it_accepts(
        sample in 0usize..1000,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let all = golden_actions();
        let mut bytes = all[sample % all.len()].clone();
        // Keep the tag so each action kind's decoder is the one exercised.
        for (pos, b) in edits {
            let i = 1 + pos % (bytes.len() - 1).max(1);
            if i < bytes.len() {
                bytes[i] = b;
            }
        }
        if let Ok(action) = Action::decode_exact(&bytes, MAX_TX_BYTES) {
            prop_assert_eq!(action.encode(), bytes);
            let json = serde_json::to_value(&action).expect("serialize");
            prop_assert_eq!(serde_json::from_value::<Action>(json).expect("parse"), action);
        }
    }

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn arbitrary_bytes_never_panic_the_action_decoder(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let _ = Action::decode_exact(&bytes, MAX_TX_BYTES);
    }
}

//! The wire format's test vectors, `docs/vectors.json`, written from the codec: one signed
//! transaction per action sample of `golden/codec.json` (the first sample of each action kind
//! is `action/KIND`, a further one `action/KIND/CASE`, covering other enum variants and absent
//! options) and one per transaction shape (a fee payer, several signers, several actions),
//! each with its JSON form, its bytes, the message signed, the signature and the id. Clients
//! in other languages test against them (`docs/wire.md`, `docs/schema.json`).
//!
//! The file must match what the codec produces now: CI fails when it is stale. To rewrite it
//! after a deliberate change, run with `MACHINA_BLESS=1`.

use machina_primitives::{Address, Amount, Encode, Keypair, DEV_CHAIN_ID};
use machina_stf::{Action, Transaction, TxBody};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/codec.json");
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors.json");
const WIRE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/wire.md");
const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema.json");
const CLIENT_SCHEMAS: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../clients/python/machina_client/schema.json"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../clients/ts/src/schema.json"
    ),
];
const TABLE_BEGIN: &str = "<!-- actions: begin -->\n";
const TABLE_END: &str = "<!-- actions: end -->";

fn body(actions: Vec<Action>, fee_payer: Option<Address>) -> TxBody {
    TxBody {
        chain_id: DEV_CHAIN_ID,
        sender: Keypair::dev("alice").address(),
        nonce: 7,
        fee: Amount(1_000),
        expiry_height: 1_000,
        fee_payer,
        actions,
    }
}

/// One vector as a line of JSON. Keys are written in a fixed order, and `tx` as serde writes
/// it, so every object's fields appear in the order the codec encodes them.
fn vector(name: &str, tx: &Transaction) -> String {
    let s = |v: String| serde_json::to_string(&v).expect("a string");
    let sigs: Vec<Value> = tx
        .signatures
        .iter()
        .map(|x| serde_json::json!({"public_key": x.public_key, "signature": x.signature}))
        .collect();
    format!(
        "{{\"name\":{},\"tx\":{},\"tx_bytes\":{},\"body_bytes\":{},\"signing_message\":{},\"public_key\":{},\"signature\":{},\"signatures\":{},\"tx_id\":{}}}",
        s(name.to_owned()),
        serde_json::to_string(tx).expect("tx JSON"),
        s(hex::encode(tx.encode())),
        s(hex::encode(tx.body.encode())),
        s(hex::encode(tx.body.signing_message())),
        s(tx.signatures[0].public_key.to_string()),
        s(hex::encode(tx.signatures[0].signature.0)),
        serde_json::to_string(&sigs).expect("signatures"),
        s(tx.hash().to_string()),
    )
}

/// Every vector, in a fixed order.
fn vectors() -> Vec<String> {
    let text = std::fs::read_to_string(GOLDEN).expect("read golden/codec.json");
    let samples: Vec<Value> = serde_json::from_str(&text).expect("golden/codec.json is JSON");
    let (alice, bob) = (Keypair::dev("alice"), Keypair::dev("bob"));
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for s in samples.iter().filter(|s| s["type"] == "Action") {
        let action: Action = serde_json::from_value(s["json"].clone()).expect("an action");
        let name = if seen.insert(action.name()) {
            format!("action/{}", action.name())
        } else {
            format!("action/{}/{}", action.name(), case(s, &action))
        };
        let tx = body(vec![action.clone()], None).sign(&[&alice]);
        out.push(vector(&name, &tx));
    }
    let transfer = |amount| -> Action {
        machina_bank::BankAction::Transfer {
            to: Keypair::dev("charlie").address(),
            amount: Amount(amount),
        }
        .into()
    };
    let sponsored = body(vec![transfer(2_500_000)], Some(bob.address())).sign(&[&alice]);
    out.push(vector("shape/fee_payer", &sponsored));
    let multi = body(vec![transfer(2_500_000)], None).sign(&[&alice, &bob]);
    out.push(vector("shape/several_signers", &multi));
    let many = body(vec![transfer(1), transfer(2), transfer(3)], None).sign(&[&alice]);
    out.push(vector("shape/several_actions", &many));
    out
}

/// What a further sample of an action kind covers: its name in `golden/codec.json` without
/// the kind or module it starts with (`register_machine/kind_solar` or
/// `register_machine_minimal` of `register_machine`, `shares_claim_all` of `claim_revenue`).
fn case(sample: &Value, action: &Action) -> String {
    let name = sample["name"].as_str().expect("a sample has a name");
    [action.name(), action.module()]
        .iter()
        .flat_map(|p| [format!("{p}/"), format!("{p}_")])
        .find_map(|p| name.strip_prefix(p.as_str()))
        .unwrap_or(name)
        .to_owned()
}

fn file() -> String {
    format!("[\n{}\n]\n", vectors().join(",\n"))
}

#[test]
fn docs_vectors_json_is_what_the_codec_writes() {
    let want = file();
    if std::env::var("MACHINA_BLESS").is_ok() {
        std::fs::write(VECTORS, &want).expect("write docs/vectors.json");
    }
    let have = std::fs::read_to_string(VECTORS).unwrap_or_default();
    assert!(
        have == want,
        "docs/vectors.json is stale: run `MACHINA_BLESS=1 cargo test -p machina-stf --test vectors` and commit it"
    );
}

#[test]
fn every_action_kind_and_shape_has_a_vector_that_verifies() {
    let v: Vec<Value> = serde_json::from_str(&file()).expect("vectors are JSON");
    let kinds: std::collections::BTreeSet<String> = machina_stf::MODULES
        .iter()
        .flat_map(|m| m.actions.iter().map(|(_, n)| format!("action/{n}")))
        .collect();
    let all: Vec<&str> = v.iter().filter_map(|x| x["name"].as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "vector names are unique");
    let names: std::collections::BTreeSet<String> = all
        .iter()
        .filter(|n| n.starts_with("action/") && n.matches('/').count() == 1)
        .map(|n| (*n).to_owned())
        .collect();
    assert_eq!(names, kinds, "one vector per action kind");
    for n in all.iter().filter(|n| n.matches('/').count() > 1) {
        let kind = n.split('/').take(2).collect::<Vec<_>>().join("/");
        assert!(
            kinds.contains(&kind),
            "{n}: a further case of an action kind"
        );
    }
    for x in &v {
        let tx: Transaction =
            serde_json::from_value(x["tx"].clone()).expect("the JSON form parses");
        let bytes = hex::decode(x["tx_bytes"].as_str().expect("hex")).expect("hex");
        assert_eq!(
            tx.encode(),
            bytes,
            "{}: the JSON form encodes to tx_bytes",
            x["name"]
        );
        let msg = hex::decode(x["signing_message"].as_str().expect("hex")).expect("hex");
        assert!(msg.starts_with(b"machina/tx/v1"));
        let body = hex::decode(x["body_bytes"].as_str().expect("hex")).expect("hex");
        assert_eq!(&msg[b"machina/tx/v1".len()..], &body[..]);
        // The transaction's own signatures (an action's embedded ones, a manufacturer's or a
        // device's, are sample bytes here).
        assert_eq!(
            Transaction::verify_signatures(&[tx]),
            [true],
            "{}: signatures verify",
            x["name"]
        );
    }
}

/// Every action: tag, name, module and its fields in encoding order (as the sample's JSON
/// writes them).
fn actions() -> Vec<(u8, &'static str, &'static str, Vec<String>)> {
    let text = std::fs::read_to_string(GOLDEN).expect("read golden/codec.json");
    let samples: Vec<Value> = serde_json::from_str(&text).expect("golden/codec.json is JSON");
    let mut out = Vec::new();
    for m in machina_stf::MODULES {
        for (tag, name) in m.actions {
            let sample = samples
                .iter()
                .find(|s| s["type"] == "Action" && s["json"]["type"] == *name)
                .expect("every action has a sample");
            let action: Action = serde_json::from_value(sample["json"].clone()).expect("action");
            let json = serde_json::to_string(&action).expect("JSON");
            let keys: Keys = serde_json::from_str(&json).expect("an object");
            let fields: Vec<String> = keys.0.into_iter().filter(|k| k != "type").collect();
            out.push((*tag, *name, m.name, fields));
        }
    }
    out
}

/// The table of every action in `docs/wire.md`.
fn action_table() -> String {
    let mut out =
        String::from("| tag | action | module | fields, in encoding order |\n|---|---|---|---|\n");
    for (tag, name, module, fields) in actions() {
        out += &format!("| {tag} | `{name}` | {module} | {} |\n", fields.join(", "));
    }
    out
}

/// `docs/schema.json` names the same actions, tags, modules and fields as the codec (the
/// clients' vector tests check its types), and each client ships an identical copy.
#[test]
fn docs_schema_json_has_every_action_and_the_clients_ship_it() {
    let text = std::fs::read_to_string(SCHEMA).expect("read docs/schema.json");
    let schema: Value = serde_json::from_str(&text).expect("docs/schema.json is JSON");
    let listed: Vec<(u64, String, String, Vec<String>)> = schema["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            let fields = a["fields"].as_array().expect("fields").iter();
            (
                a["tag"].as_u64().expect("tag"),
                a["type"].as_str().expect("type").to_owned(),
                a["module"].as_str().expect("module").to_owned(),
                fields
                    .map(|f| f["name"].as_str().expect("name").to_owned())
                    .collect(),
            )
        })
        .collect();
    let want: Vec<(u64, String, String, Vec<String>)> = actions()
        .into_iter()
        .map(|(t, n, m, f)| (u64::from(t), n.to_owned(), m.to_owned(), f))
        .collect();
    assert_eq!(
        listed, want,
        "docs/schema.json lists every action as the codec has it"
    );
    for copy in CLIENT_SCHEMAS {
        if std::env::var("MACHINA_BLESS").is_ok() {
            std::fs::write(copy, &text).expect("write a client's schema.json");
        }
        let have = std::fs::read_to_string(copy).unwrap_or_default();
        assert!(
            have == text,
            "{copy} differs from docs/schema.json: run with MACHINA_BLESS=1 and commit it"
        );
    }
}

#[test]
fn docs_wire_md_lists_every_action_as_the_codec_has_it() {
    let doc = std::fs::read_to_string(WIRE).expect("read docs/wire.md");
    let (a, b) = (
        doc.find(TABLE_BEGIN).expect("begin marker") + TABLE_BEGIN.len(),
        doc.find(TABLE_END).expect("end marker"),
    );
    let want = action_table();
    if std::env::var("MACHINA_BLESS").is_ok() {
        std::fs::write(WIRE, format!("{}{want}{}", &doc[..a], &doc[b..])).expect("write wire.md");
    } else {
        assert!(
            doc[a..b] == want,
            "docs/wire.md's action table is stale: run with MACHINA_BLESS=1 and commit it"
        );
    }
}

/// The keys of a JSON object in the order they are written.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Keys, M::Error> {
                let mut k = Vec::new();
                while let Some(key) = m.next_key::<String>()? {
                    m.next_value::<IgnoredAny>()?;
                    k.push(key);
                }
                Ok(Keys(k))
            }
        }
        d.deserialize_map(V)
    }
}

#[test]
fn the_body_is_written_in_encoding_order() {
    let tx = body(vec![], None).sign(&[&Keypair::dev("alice")]);
    let json = serde_json::to_string(&tx.body).expect("JSON");
    let keys: Keys = serde_json::from_str(&json).expect("keys");
    assert_eq!(
        keys.0,
        [
            "chain_id",
            "sender",
            "nonce",
            "fee",
            "expiry_height",
            "fee_payer",
            "actions"
        ]
    );
}

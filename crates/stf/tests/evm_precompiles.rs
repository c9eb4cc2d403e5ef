//! Contracts reaching the modules through the precompiles: an agent contract that a machine's
//! policy allows places energy orders for it; the same call for a machine whose policy does
//! not name the contract is refused with the energy module's own code; a contract buys energy
//! and pays several accounts in one transaction, all or nothing.

use machina_bank::BankAction;
use machina_energy::{EnergyAction, MarketRule, ZoneConfig};
use machina_evm::{create_address, EvmAction};
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_primitives::{Address, Amount};
use machina_testkit::{key, Chain};
use machina_wallet::{SpendPolicy, WalletAction};
use revm::primitives::U256;

const CHAIN: u64 = 78;
const INTERVAL: u64 = 900_000;
const T0: u64 = 1_800_000_000_000;
const ZONE: &str = "zone-a";

fn zone() -> ZoneConfig {
    ZoneConfig {
        name: ZONE.into(),
        interval_ms: INTERVAL,
        gate_closure_ms: 60_000,
        retail_price: 300_000,
        feed_in_price: 80_000,
        market_fee_bps: 100,
        rule: MarketRule::PayAsClear { k_ppm: 500_000 },
        import_limit_w: 1_000_000,
        export_limit_w: 1_000_000,
        settlement_deadline_ms: 600_000,
    }
}

fn register(c: &mut Chain, n: u8) -> (u64, Address) {
    let alice = key("alice");
    let d = key(&format!("device{n}"));
    let reg = MachineRegistration {
        device_key: d.public(),
        device_signature: d.sign(&device_pop_message(CHAIN, &alice.address())),
        kind: MachineKind::Battery,
        rated_power_w: 5_000,
        capacity_wh: Some(10_000),
        zone: Some(ZONE.into()),
        metadata: MachineMetadata::default(),
        attestation: None,
    };
    let r = c.ok(
        &alice,
        vec![IdentityAction::RegisterMachine(Box::new(reg)).into()],
    );
    let id: u64 = r.events[1].attrs["machine_id"].parse().expect("id");
    let addr = machina_identity::machine(&c.state, id)
        .expect("machine")
        .address;
    c.ok(
        &alice,
        vec![BankAction::Transfer {
            to: addr,
            amount: Amount(100_000_000),
        }
        .into()],
    );
    (id, addr)
}

fn uint(v: u64) -> [u8; 32] {
    U256::from(v).to_be_bytes::<32>()
}

fn buy_data(function: &str, machine_id: u64) -> Vec<u8> {
    let mut d =
        machina_evm::abi::selector(&format!("{function}(uint64,uint64,uint64,uint64)")).to_vec();
    for w in [machine_id, T0, 200_000, 1_000] {
        d.extend_from_slice(&uint(w));
    }
    d
}

/// A zone, two machines of alice's in it, and the agent contract deployed by bob.
fn setup() -> (Chain, Address, [(u64, Address); 2]) {
    setup_with(include_str!("fixtures/energy_agent.hex"))
}

/// A zone, two machines of alice's, and the contract `code` deployed by bob and named on
/// machine 1's allowlist.
fn setup_with(code: &str) -> (Chain, Address, [(u64, Address); 2]) {
    let mut c = Chain::new(CHAIN, T0 - 3_600_000);
    let alice = key("alice");
    c.ok(
        &alice,
        vec![EnergyAction::CreateZone {
            config: Box::new(zone()),
            grid_float: Amount(1_000_000_000),
        }
        .into()],
    );
    let machines = [register(&mut c, 1), register(&mut c, 2)];
    let agent = deploy(&mut c, code);
    // Machine 1's owner names the agent (and the zone's escrow, which its orders pay).
    let policy = SpendPolicy {
        allowlist: vec![agent, machina_energy::market::escrow_address(ZONE)],
        ..SpendPolicy::default()
    };
    c.ok(
        &alice,
        vec![WalletAction::SetSpendPolicy {
            machine_id: machines[0].0,
            policy,
        }
        .into()],
    );
    (c, agent, machines)
}

/// Deploys the hex-encoded creation `code` from bob's account; the contract's address.
fn deploy(c: &mut Chain, code: &str) -> Address {
    let bob = key("bob");
    let nonce = c.nonce(&bob.address());
    let code = hex::decode(code.trim()).expect("hex");
    c.ok(
        &bob,
        vec![EvmAction::Deploy {
            code,
            value: Amount::ZERO,
            gas_limit: 1_000_000,
        }
        .into()],
    );
    create_address(&bob.address(), nonce)
}

fn call(to: Address, data: Vec<u8>) -> machina_stf::Action {
    EvmAction::Call {
        to,
        value: Amount::ZERO,
        data,
        gas_limit: 500_000,
    }
    .into()
}

#[test]
fn a_contract_the_policy_allows_places_an_order_for_the_machine() {
    let (mut c, agent, [(id, addr), _]) = setup();
    let before = c.balance(&addr);
    let r = c.ok(&key("bob"), vec![call(agent, buy_data("buy", id))]);
    let placed = r
        .events
        .iter()
        .find(|e| e.kind == "order_placed")
        .expect("an order");
    assert_eq!(placed.attrs["machine_id"], id.to_string().as_str());
    assert!(
        c.balance(&addr) < before,
        "the escrow left the machine's account"
    );
    assert!(
        r.events
            .iter()
            .any(|e| e.module == "evm" && e.kind == "log"),
        "Bought was emitted"
    );
}

#[test]
fn a_contract_the_policy_does_not_name_is_refused_with_the_modules_code() {
    let (mut c, agent, [_, (id, addr)]) = setup();
    let before = c.balance(&addr);
    let r = c
        .send(&key("bob"), vec![call(agent, buy_data("buy", id))])
        .expect("included");
    let err = r.error.expect("refused");
    assert_eq!(err.code, "execution_reverted");
    assert!(
        err.message.contains("not_machine_or_owner"),
        "{}",
        err.message
    );
    assert_eq!(c.balance(&addr), before);
    // Caught inside the contract, the same refusal is a reason it can act on.
    let r = c.ok(&key("bob"), vec![call(agent, buy_data("tryBuy", id))]);
    assert!(r.events.iter().all(|e| e.kind != "order_placed"));
}

#[test]
fn a_machine_read_through_the_precompile_matches_the_record() {
    let (c, _, [(id, addr), _]) = setup();
    let mut data = machina_evm::abi::selector("machine(uint64)").to_vec();
    data.extend_from_slice(&uint(id));
    let out = machina_evm::simulate(
        &c.state,
        c.next_env(),
        &machina_evm::Call {
            caller: key("carol").address(),
            to: Some(machina_evm::precompiles::MACHINES),
            value: Amount::ZERO,
            data,
            gas_limit: 100_000,
            nonce: 0,
            access_list: vec![],
        },
    )
    .expect("runs");
    let machina_evm::Status::Success { output, .. } = out.status else {
        panic!("{:?}", out.status)
    };
    assert_eq!(&output[12..32], &key("alice").address().0, "owner");
    assert_eq!(&output[44..64], &addr.0, "account");
}

fn bytes_arg(selector: &str, payload: &[u8]) -> Vec<u8> {
    let mut d = machina_evm::abi::selector(selector).to_vec();
    d.extend_from_slice(&uint(32));
    d.extend_from_slice(&uint(payload.len() as u64));
    let mut p = payload.to_vec();
    p.resize(payload.len().div_ceil(32) * 32, 0);
    d.extend_from_slice(&p);
    d
}

#[test]
fn a_contract_runs_module_actions_as_itself_and_only_those_without_signatures() {
    let (mut c, _, _) = setup();
    let bob = key("bob");
    let treasury = deploy(&mut c, include_str!("fixtures/treasury.hex"));
    c.ok(
        &key("alice"),
        vec![BankAction::Transfer {
            to: treasury,
            amount: Amount(10_000),
        }
        .into()],
    );
    // pay(to, 600): the bank's own transfer, from the contract's account.
    let to = Address([0x66; 20]);
    let mut pay = machina_evm::abi::selector("pay(address,uint128)").to_vec();
    pay.extend_from_slice(&[0u8; 12]);
    pay.extend_from_slice(&to.0);
    pay.extend_from_slice(&uint(600));
    let r = c.ok(&bob, vec![call(treasury, pay)]);
    assert!(
        r.events
            .iter()
            .any(|e| e.module == "bank" && e.kind == "transfer"),
        "{:?}",
        r.events
    );
    assert_eq!(c.balance(&to), 600);
    assert_eq!(c.balance(&treasury), 9_400);
    // An action that carries a signature of its own (a manufacturer's registration) is refused.
    let mut manufacturer = vec![10u8, 0, 0, 0, 1, b'x'];
    manufacturer.extend_from_slice(&[2u8; 32 + 64]);
    let r = c
        .send(
            &bob,
            vec![call(treasury, bytes_arg("runRaw(bytes)", &manufacturer))],
        )
        .expect("included");
    assert!(r
        .error
        .expect("refused")
        .message
        .contains("action_not_allowed"));
    // An allowed action is refused by its module's own rule, with its code.
    let mut unbond = vec![51u8, 0];
    unbond.extend_from_slice(&999u64.to_be_bytes());
    unbond.extend_from_slice(&1u128.to_be_bytes());
    let r = c
        .send(
            &bob,
            vec![call(treasury, bytes_arg("runRaw(bytes)", &unbond))],
        )
        .expect("included");
    let err = r.error.expect("refused");
    assert!(
        err.message.contains("execution reverted: "),
        "{}",
        err.message
    );
    assert!(
        !err.message.contains("action_not_allowed"),
        "{}",
        err.message
    );
    assert_eq!(c.balance(&treasury), 9_400, "nothing moved");
}

/// `Operator.operate(machine, interval, price, qty, job, top_up, payees, each)`.
fn operate_data(machine_id: u64, job_id: u64, payees: &[Address], each: u64) -> Vec<u8> {
    let signature = "operate(uint64,uint64,uint64,uint64,uint64,uint128,address[],uint128)";
    let mut d = machina_evm::abi::selector(signature).to_vec();
    // Eight head words, then the payees array at the offset after them.
    for w in [machine_id, T0, 200_000, 1_000, job_id, 500, 8 * 32, each] {
        d.extend_from_slice(&uint(w));
    }
    d.extend_from_slice(&uint(payees.len() as u64));
    for p in payees {
        d.extend_from_slice(&[0u8; 12]);
        d.extend_from_slice(&p.0);
    }
    d
}

#[test]
fn a_contract_buys_energy_and_splits_a_payment_in_one_transaction_or_not_at_all() {
    let (mut c, operator, [(id, addr), _]) = setup_with(include_str!("fixtures/operator.hex"));
    c.ok(
        &key("alice"),
        vec![BankAction::Transfer {
            to: operator,
            amount: Amount(10_000),
        }
        .into()],
    );
    let payees = [Address([0x71; 20]), Address([0x72; 20])];
    let machine_before = c.balance(&addr);
    // A job the operator does not hold: the compute module refuses the top-up, and the order
    // placed before it in the same call is undone with it.
    let r = c
        .send(
            &key("bob"),
            vec![call(operator, operate_data(id, 7, &payees, 300))],
        )
        .expect("included");
    let err = r.error.expect("refused");
    assert_eq!(err.code, "execution_reverted", "{}", err.message);
    assert!(r.events.iter().all(|e| e.kind != "order_placed"));
    assert_eq!(
        c.balance(&addr),
        machine_before,
        "no escrow left the machine"
    );
    assert_eq!(c.balance(&operator), 10_000);
    assert_eq!(c.balance(&payees[0]), 0);
    // Without the top-up: one order for the machine and both payments, in one receipt.
    let r = c.ok(
        &key("bob"),
        vec![call(operator, operate_data(id, 0, &payees, 300))],
    );
    let kinds: Vec<(&str, &str)> = r
        .events
        .iter()
        .map(|e| (e.module.as_str(), e.kind.as_str()))
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ("energy", "order_placed"))
            .count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == ("bank", "transfer")).count(),
        2,
        "{kinds:?}"
    );
    assert!(
        c.balance(&addr) < machine_before,
        "the order's escrow left the machine"
    );
    assert_eq!(c.balance(&payees[0]), 300);
    assert_eq!(c.balance(&payees[1]), 300);
    assert_eq!(c.balance(&operator), 9_400);
}

//! The EVM through the whole transaction path: Ethereum transactions framed as the node frames
//! them, native accounts calling contracts, gas paid and refunded, value conserved.

use machina_bank::BankAction;
use machina_evm::sign::{mnemonic_keys, sign_1559, sign_legacy, EthKey, Unsigned, DEV_MNEMONIC};
use machina_evm::{create_address, simulate, Call, EvmAction, Status, BASE_FEE_WEI, WEI_PER_MICRO};
use machina_primitives::{Address, Amount};
use machina_stf::Action;
use machina_testkit::{key, Chain, FEE};
use proptest::prelude::*;
use revm::primitives::U256;

const CHAIN: u64 = 77;
const TOKEN: u128 = 1_000_000; // micro-units in one token, 10^18 wei

fn erc20_code(supply: u128) -> Vec<u8> {
    let mut code = hex::decode(include_str!("fixtures/erc20.hex").trim()).expect("hex");
    // constructor(string name, string symbol, uint256 supply)
    let mut args = vec![0u8; 96];
    args[31] = 0x60;
    args[63] = 0xa0;
    args[64..96].copy_from_slice(&U256::from(supply).to_be_bytes::<32>());
    for s in ["Watt", "WATT"] {
        let mut len = [0u8; 32];
        len[31] = s.len() as u8;
        args.extend_from_slice(&len);
        let mut word = [0u8; 32];
        word[..s.len()].copy_from_slice(s.as_bytes());
        args.extend_from_slice(&word);
    }
    code.extend_from_slice(&args);
    code
}

fn word_address(a: &Address) -> Vec<u8> {
    let mut w = vec![0u8; 12];
    w.extend_from_slice(&a.0);
    w
}

fn transfer_data(to: &Address, amount: u128) -> Vec<u8> {
    let mut d = machina_evm::abi::selector("transfer(address,uint256)").to_vec();
    d.extend(word_address(to));
    d.extend_from_slice(&U256::from(amount).to_be_bytes::<32>());
    d
}

fn balance_of(c: &Chain, token: &Address, who: &Address) -> U256 {
    let mut data = machina_evm::abi::selector("balanceOf(address)").to_vec();
    data.extend(word_address(who));
    let call = Call {
        caller: *who,
        to: Some(*token),
        value: Amount::ZERO,
        data,
        gas_limit: 100_000,
        nonce: c.nonce(who),
        access_list: vec![],
    };
    match simulate(&c.state, c.next_env(), &call)
        .expect("runs")
        .status
    {
        Status::Success { output, .. } => U256::from_be_slice(&output),
        other => panic!("balanceOf failed: {other:?}"),
    }
}

/// A chain where the first two dev mnemonic accounts hold 1,000 tokens each.
fn chain() -> (Chain, Vec<EthKey>) {
    let mut c = Chain::new(CHAIN, 1_800_000_000_000);
    let keys = mnemonic_keys(DEV_MNEMONIC, 2);
    for k in &keys {
        c.ok(
            &key("alice"),
            vec![BankAction::Transfer {
                to: k.address(),
                amount: Amount(1_000 * TOKEN),
            }
            .into()],
        );
    }
    (c, keys)
}

fn eth(
    c: &Chain,
    k: &EthKey,
    to: Option<Address>,
    value_micro: u128,
    input: Vec<u8>,
    gas: u64,
) -> Unsigned {
    Unsigned {
        chain_id: CHAIN,
        nonce: c.nonce(&k.address()),
        to,
        value_wei: U256::from(value_micro) * U256::from(WEI_PER_MICRO),
        input,
        gas_limit: gas,
        max_fee_per_gas: 2 * BASE_FEE_WEI,
        max_priority_fee_per_gas: 0,
    }
}

fn deploy(c: &mut Chain, k: &EthKey) -> Address {
    let nonce = c.nonce(&k.address());
    let raw = sign_1559(k, &eth(c, k, None, 0, erc20_code(1_000_000), 2_000_000));
    let r = c.send_eth(raw).expect("included");
    assert!(r.success, "{:?}", r.error);
    create_address(&k.address(), nonce)
}

#[test]
fn an_erc20_deploys_and_transfers_through_ethereum_transactions() {
    let (mut c, keys) = chain();
    let (a, b) = (keys[0].address(), keys[1].address());
    let token = deploy(&mut c, &keys[0]);
    assert_eq!(balance_of(&c, &token, &a), U256::from(1_000_000));
    let before = c.balance(&a);
    let proposer_before = c.balance(&c.proposer());
    let raw = sign_legacy(
        &keys[0],
        &eth(
            &c,
            &keys[0],
            Some(token),
            0,
            transfer_data(&b, 250),
            100_000,
        ),
    );
    let r = c.send_eth(raw.clone()).expect("included");
    assert!(r.success, "{:?}", r.error);
    assert_eq!(
        r.tx_hash.0,
        alloy_primitives::keccak256(&raw).0,
        "the id is the Ethereum hash"
    );
    assert_eq!(balance_of(&c, &token, &b), U256::from(250));
    assert_eq!(balance_of(&c, &token, &a), U256::from(999_750));
    // A legacy transaction pays its whole gas price (here twice the base fee of one micro-unit
    // per gas) for the gas it used, exactly; the rest of its limit comes back.
    let gas = machina_evm::gas_used(&r.events).expect("gas used");
    assert!(gas > 21_000 && gas < 100_000, "{gas}");
    assert_eq!(r.fee_charged, Amount(2 * u128::from(gas)));
    assert_eq!(before - c.balance(&a), 2 * u128::from(gas));
    assert_eq!(
        c.balance(&c.proposer()) - proposer_before,
        2 * u128::from(gas)
    );
    let log = r
        .events
        .iter()
        .find(|e| e.kind == "log")
        .expect("a Transfer log");
    assert_eq!(log.attrs["address"], token.to_string().as_str());
}

#[test]
fn a_revert_undoes_the_call_and_charges_only_the_gas_used() {
    let (mut c, keys) = chain();
    let b = keys[1].address();
    let token = deploy(&mut c, &keys[0]);
    let before = c.balance(&keys[0].address());
    let raw = sign_1559(
        &keys[0],
        &eth(
            &c,
            &keys[0],
            Some(token),
            0,
            transfer_data(&b, 5_000_000),
            200_000,
        ),
    );
    let r = c.send_eth(raw).expect("included");
    assert!(!r.success);
    assert_eq!(
        r.error.as_ref().map(|e| e.code.as_str()),
        Some("execution_reverted")
    );
    assert!(
        r.fee_charged.0 < 200_000 && r.fee_charged.0 > 21_000,
        "{:?}",
        r.fee_charged
    );
    assert_eq!(before - c.balance(&keys[0].address()), r.fee_charged.0);
    assert_eq!(balance_of(&c, &token, &b), U256::ZERO);
    assert_eq!(
        c.nonce(&keys[0].address()),
        2,
        "a reverted transaction still uses its nonce"
    );
}

#[test]
fn value_below_a_micro_unit_is_refused_before_it_costs_anything() {
    let (mut c, keys) = chain();
    let mut tx = eth(&c, &keys[0], Some(keys[1].address()), 0, vec![], 21_000);
    tx.value_wei = U256::from(WEI_PER_MICRO + 1);
    let err = c.send_eth(sign_1559(&keys[0], &tx)).expect_err("refused");
    assert_eq!(err.code(), "sub_micro_value");
}

#[test]
fn a_contract_that_sends_less_than_a_micro_unit_moves_nothing() {
    let (mut c, keys) = chain();
    let target = Address([0x99; 20]);
    // Creation code that sends 1 wei of the value it was given to `target`, then stops.
    let mut code = hex::decode("60006000600060006001").expect("hex");
    code.push(0x73);
    code.extend_from_slice(&target.0);
    code.extend_from_slice(&[0x5a, 0xf1, 0x00]);
    let before = c.balance(&keys[0].address());
    let raw = sign_1559(&keys[0], &eth(&c, &keys[0], None, 1, code, 100_000));
    let r = c.send_eth(raw).expect("included");
    assert!(!r.success);
    assert_eq!(
        r.error.as_ref().map(|e| e.code.as_str()),
        Some("execution_halted"),
        "{:?}",
        r.error
    );
    assert_eq!(c.balance(&target), 0);
    assert_eq!(
        before - c.balance(&keys[0].address()),
        r.fee_charged.0,
        "only the gas was paid"
    );
}

#[test]
fn a_plain_ethereum_transfer_moves_micro_units() {
    let (mut c, keys) = chain();
    let to = Address([0x42; 20]);
    let raw = sign_1559(
        &keys[0],
        &eth(&c, &keys[0], Some(to), 7 * TOKEN, vec![], 21_000),
    );
    let r = c.send_eth(raw).expect("included");
    assert!(r.success, "{:?}", r.error);
    assert_eq!(c.balance(&to), 7 * TOKEN);
    assert_eq!(r.fee_charged, Amount(21_000));
}

#[test]
fn a_frame_that_disagrees_with_its_ethereum_transaction_is_refused() {
    let (mut c, keys) = chain();
    let raw = sign_1559(
        &keys[0],
        &eth(&c, &keys[0], Some(Address([1; 20])), 1, vec![], 21_000),
    );
    let mut tx = machina_stf::wrap_ethereum(raw.clone(), c.height).expect("wraps");
    tx.body.sender = keys[1].address();
    assert_eq!(
        c.execute(tx).expect_err("refused").code(),
        "envelope_mismatch"
    );
    // An envelope inside a natively signed transaction is refused: nothing checked its sender.
    let alice = key("alice");
    let r = c.send(&alice, vec![Action::Evm(EvmAction::Ethereum { raw })]);
    assert_eq!(r.expect_err("refused").code(), "envelope_mismatch");
}

#[test]
fn a_native_account_calls_a_contract() {
    let (mut c, keys) = chain();
    let token = deploy(&mut c, &keys[0]);
    let alice = key("alice");
    let raw = sign_1559(
        &keys[0],
        &eth(
            &c,
            &keys[0],
            Some(token),
            0,
            transfer_data(&alice.address(), 40),
            100_000,
        ),
    );
    assert!(c.send_eth(raw).expect("included").success);
    let bob = Address([0xb0; 20]);
    let r = c.ok(
        &alice,
        vec![EvmAction::Call {
            to: token,
            value: Amount::ZERO,
            data: transfer_data(&bob, 15),
            gas_limit: 100_000,
        }
        .into()],
    );
    assert_eq!(r.fee_charged, Amount(FEE + 100_000));
    assert_eq!(balance_of(&c, &token, &bob), U256::from(15));
    assert_eq!(balance_of(&c, &token, &alice.address()), U256::from(25));
    // Calling an account without code is refused: value goes through the bank.
    assert_eq!(
        c.code(
            &alice,
            vec![EvmAction::Call {
                to: bob,
                value: Amount(1),
                data: vec![],
                gas_limit: 30_000,
            }
            .into()]
        ),
        "no_code"
    );
}

#[test]
fn a_native_call_must_buy_its_gas_with_its_fee() {
    let (mut c, _) = chain();
    let alice = key("alice");
    let tx = machina_stf::TxBody {
        chain_id: CHAIN,
        sender: alice.address(),
        nonce: c.nonce(&alice.address()),
        fee: Amount(FEE),
        expiry_height: c.height + 10,
        fee_payer: None,
        actions: vec![EvmAction::Call {
            to: Address([3; 20]),
            value: Amount::ZERO,
            data: vec![],
            gas_limit: 50_000,
        }
        .into()],
    }
    .sign(&[&alice]);
    assert_eq!(c.execute(tx).expect_err("refused").code(), "fee_too_low");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Transfers of random wei amounts, some below a micro-unit, between dev accounts and a
    /// contract: whatever is refused or succeeds, no value is created or lost.
    #[test]
    fn no_value_is_created_or_lost_across_the_boundary(
        amounts in proptest::collection::vec((0u128..3, any::<bool>(), 1..WEI_PER_MICRO, 0usize..3), 1..8)
    ) {
        let (mut c, keys) = chain();
        let token = deploy(&mut c, &keys[0]);
        let supply = machina_bank::total_supply(&c.state);
        let targets = [keys[1].address(), token, Address([0x77; 20])];
        let watched: std::collections::BTreeSet<Address> =
            keys.iter().map(EthKey::address).chain(targets).chain([c.proposer()]).collect();
        let sum = |c: &Chain| watched.iter().map(|a| c.balance(a)).sum::<u128>();
        let before = sum(&c);
        for (micro, dusty, dust, t) in amounts {
            let wei = micro * WEI_PER_MICRO + if dusty { dust } else { 0 };
            let mut tx = eth(&c, &keys[0], Some(targets[t]), 0, vec![], 60_000);
            tx.value_wei = U256::from(wei);
            let _ = c.send_eth(sign_1559(&keys[0], &tx));
        }
        prop_assert_eq!(sum(&c), before);
        prop_assert_eq!(machina_bank::total_supply(&c.state), supply);
        for a in &watched {
            let wei = U256::from(c.balance(a)) * U256::from(WEI_PER_MICRO);
            prop_assert_eq!(wei % U256::from(WEI_PER_MICRO), U256::ZERO);
        }
    }
}

#[test]
fn the_one_pass_ethereum_verification_agrees_with_the_general_one() {
    let (c, keys) = chain();
    let good = sign_1559(
        &keys[0],
        &eth(&c, &keys[0], Some(Address([5; 20])), 3, vec![], 21_000),
    );
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let fast = machina_stf::verify_ethereum(vec![good.clone(), bad.clone()], c.height + 1);
    let framed = machina_stf::wrap_ethereum(good, c.height + 1).expect("wraps");
    let general = machina_stf::verify_txs(vec![framed])
        .pop()
        .expect("one")
        .expect("verifies");
    let fast_good = fast[0].as_ref().expect("verifies");
    assert_eq!(fast_good.hash(), general.hash());
    assert_eq!(fast_good.ethereum(), general.ethereum());
    assert_eq!(fast_good.tx(), general.tx());
    // A changed signature recovers to nobody, or to some other account: never to the signer.
    match &fast[1] {
        Ok(v) => assert_ne!(v.tx().body.sender, keys[0].address()),
        Err(e) => assert_eq!(e.code(), "bad_ethereum_signature"),
    }
}

//! Validator equivocation on an in-memory chain with a genesis validator set: real simplex
//! votes signed with the validators' keys, verified by the chain, slashed once.

use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::{ConflictingNotarize, Notarize, Proposal};
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::{ed25519, Hasher, Sha256, Signer as _};
use commonware_utils::ordered::Set;
use machina_bank::Allocation;
use machina_primitives::{Amount, PublicKey};
use machina_staking::{
    consensus_namespace, Equivocation, GenesisValidator, StakingAction, StakingParams, Subject, BPS,
};
use machina_stf::Genesis;
use machina_testkit::{key, Chain};

const CHAIN: u64 = 31;
const STAKE: u128 = 500_000_000;

fn keys() -> Vec<ed25519::PrivateKey> {
    (0..4).map(ed25519::PrivateKey::from_seed).collect()
}

fn machina_key(k: &ed25519::PrivateKey) -> PublicKey {
    PublicKey(k.public_key().as_ref().try_into().expect("32 bytes"))
}

fn chain() -> Chain {
    let mut g = Genesis::dev(
        CHAIN,
        0,
        keys()
            .iter()
            .map(|k| Allocation {
                address: machina_key(k).address(),
                balance: Amount(1_000_000_000),
            })
            .collect(),
    );
    g.modules.staking.validators = keys()
        .iter()
        .map(|k| GenesisValidator {
            key: machina_key(k),
            amount: Amount(STAKE),
        })
        .collect();
    Chain::from_genesis(&g, 1_000_000)
}

/// Two notarize votes of validator `i` for view `view` on different payloads, signed under
/// chain `chain_id`'s namespace.
fn conflicting(i: usize, view: u64, chain_id: u64, salt: &[u8]) -> Vec<u8> {
    let ks = keys();
    let set = Set::from_iter_dedup(ks.iter().map(|k| k.public_key()));
    let scheme =
        Scheme::signer(&consensus_namespace(chain_id), set, ks[i].clone()).expect("member");
    let round = Round::new(Epoch::zero(), View::new(view));
    let vote = |payload: &[u8]| {
        let p = Proposal::new(round, View::new(view - 1), Sha256::hash(&[payload]));
        Notarize::sign(&scheme, p).expect("signs")
    };
    Equivocation::Notarize(ConflictingNotarize::new(vote(b"a"), vote(salt))).encode()
}

fn prove(evidence: Vec<u8>) -> machina_stf::Action {
    StakingAction::ProveValidatorEquivocation { evidence }.into()
}

fn validator(i: usize) -> Subject {
    Subject::Validator {
        key: machina_key(&keys()[i]),
    }
}

#[test]
fn genesis_bonds_each_validator_from_its_own_balance() {
    let c = chain();
    let set = machina_staking::validator_set(&c.state);
    assert_eq!(set.len(), 4);
    assert!(set.windows(2).all(|w| w[0] < w[1]), "in key order");
    for i in 0..4 {
        assert_eq!(
            machina_staking::total(&c.state, &validator(i)),
            Amount(STAKE)
        );
        assert_eq!(
            c.balance(&machina_key(&keys()[i]).address()),
            1_000_000_000 - STAKE
        );
    }
}

#[test]
fn equivocation_is_verified_slashed_once_and_jails() {
    let mut c = chain();
    let prover = key("alice");
    // Validator index in the set is by key order, which the evidence's signer index uses.
    let signer_key = machina_key(&keys()[2]);
    let before = c.balance(&prover.address());
    let r = c.ok(&prover, vec![prove(conflicting(2, 7, CHAIN, b"b"))]);
    let e = r
        .events
        .iter()
        .find(|e| e.kind == "slashed")
        .expect("slashed");
    let p = StakingParams::default();
    let take = STAKE * u128::from(p.validator_equivocation_bps) / u128::from(BPS);
    assert_eq!(e.attrs["amount"], take.to_string().as_str());
    assert_eq!(e.attrs["kind"], "validator_equivocation");
    assert_eq!(e.attrs["view"], "7");
    let s = machina_staking::stake(&c.state, &Subject::Validator { key: signer_key });
    assert_eq!(s.bonded(), Amount(STAKE - take));
    assert_eq!(s.slashed_total, Amount(take));
    assert_eq!(s.jailed_until, c.height + p.validator_jail_blocks);
    let fee = machina_stf::params::DEFAULT_MIN_FEE.0;
    assert_eq!(c.balance(&prover.address()), before - fee + take / 2);
    assert_eq!(
        c.balance(&machina_staking::insurance_pool_address()),
        take - take / 2
    );
    // The same offence again, even proven by another pair of votes, is refused.
    assert_eq!(
        c.code(&prover, vec![prove(conflicting(2, 7, CHAIN, b"c"))]),
        "evidence_used"
    );
    // Another view is another offence, but the validator is jailed for the first: one
    // incident, one slash.
    assert_eq!(
        c.code(&prover, vec![prove(conflicting(2, 8, CHAIN, b"b"))]),
        "already_jailed"
    );
}

#[test]
fn evidence_that_does_not_verify_is_refused() {
    let mut c = chain();
    let alice = key("alice");
    // Signed for another chain: the namespace differs, the signatures do not verify here.
    assert_eq!(
        c.code(&alice, vec![prove(conflicting(1, 3, CHAIN + 1, b"b"))]),
        "invalid_equivocation_evidence"
    );
    // Garbage is refused at admission (no fee), never a panic.
    for bad in [vec![0u8], vec![9, 1, 2], vec![]] {
        assert_eq!(
            c.code(&alice, vec![prove(bad)]),
            "invalid_equivocation_evidence"
        );
    }
    let mut flipped = conflicting(1, 3, CHAIN, b"b");
    let n = flipped.len();
    flipped[n - 1] ^= 1;
    assert_eq!(
        c.code(&alice, vec![prove(flipped)]),
        "invalid_equivocation_evidence"
    );
    // A dev chain has no validator set to check against.
    let mut dev = Chain::new(CHAIN, 1_000_000);
    assert_eq!(
        dev.code(&alice, vec![prove(conflicting(1, 3, CHAIN, b"b"))]),
        "invalid_equivocation_evidence"
    );
}

#[test]
fn a_slash_of_many_bonders_splits_exactly_across_bonded_and_unbonding_stake() {
    let mut c = chain();
    let subject = validator(0);
    let min = StakingParams::default().min_validator_bond.0;
    for (i, n) in machina_stf::DEV_ACCOUNTS.iter().enumerate() {
        let amount = Amount(min + 7_777 * i as u128 + 3);
        c.ok(
            &key(n),
            vec![StakingAction::Bond {
                subject: subject.clone(),
                amount,
            }
            .into()],
        );
    }
    let unbonder = key(machina_stf::DEV_ACCOUNTS[1]);
    c.ok(
        &unbonder,
        vec![StakingAction::Unbond {
            subject: subject.clone(),
            amount: Amount(7_000),
        }
        .into()],
    );
    let before = machina_staking::stake(&c.state, &subject);
    let parts: Vec<u128> = before
        .bonds
        .iter()
        .map(|b| b.amount.0)
        .chain(before.unbonding.iter().map(|u| u.amount.0))
        .collect();
    let staked: u128 = parts.iter().sum();
    c.ok(&key("alice"), vec![prove(conflicting(0, 4, CHAIN, b"b"))]);
    let after = machina_staking::stake(&c.state, &subject);
    let left: Vec<u128> = after
        .bonds
        .iter()
        .map(|b| b.amount.0)
        .chain(after.unbonding.iter().map(|u| u.amount.0))
        .collect();
    assert_eq!(left.len(), parts.len(), "no part vanished");
    let bps = u128::from(StakingParams::default().validator_equivocation_bps);
    let take = staked * bps / u128::from(BPS);
    let cuts: Vec<u128> = parts.iter().zip(&left).map(|(p, l)| p - l).collect();
    assert_eq!(
        cuts.iter().sum::<u128>(),
        take,
        "the parts' cuts add up to the slash"
    );
    for (p, cut) in parts.iter().zip(&cuts) {
        let exact = p * take / staked;
        assert!(
            *cut == exact || *cut == exact + 1,
            "part {p} lost {cut}, pro rata {exact}"
        );
    }
    assert!(
        after.unbonding[0].amount < before.unbonding[0].amount,
        "unbonding stake is slashable"
    );
    assert_eq!(after.slashed_total, Amount(take));
}

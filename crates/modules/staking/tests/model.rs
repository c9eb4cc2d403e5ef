//! A reference model of bonds, unbondings and slashes, checked against the staking module on
//! random operation sequences: the same refusals, the same parts and unbondings (with their
//! release heights), the same balances, and the supply untouched throughout.

use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, BlockEnv, Hash};
use machina_staking::{EvidenceKind, Slash, StakingError, StakingParams, Subject, BPS};
use machina_state::{AuthenticatedState, Overlay, SparseMerkleTree, StateRead};
use machina_stf::Genesis;
use machina_testkit::key;
use proptest::prelude::*;
use std::collections::BTreeMap;

const NAMES: [&str; 3] = ["alice", "bob", "charlie"];
const UNIT: u128 = 1_000_000;

#[derive(Clone, Debug)]
enum Op {
    Bond {
        who: usize,
        subject: usize,
        units: u128,
    },
    Unbond {
        who: usize,
        subject: usize,
        micro: u128,
    },
    Slash {
        subject: usize,
        bps: u32,
        replay: bool,
    },
    Advance {
        blocks: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..2usize, 1..4u128).prop_map(|(who, subject, units)| Op::Bond { who, subject, units }),
        3 => (0..3usize, 0..2usize, 1..4_000_000u128).prop_map(|(who, subject, micro)| Op::Unbond { who, subject, micro }),
        2 => (0..2usize, 0..=BPS, any::<bool>()).prop_map(|(subject, bps, replay)| Op::Slash { subject, bps, replay }),
        2 => (1..80u64).prop_map(|blocks| Op::Advance { blocks }),
    ]
}

/// The model: parts, unbondings and balances, as plain maps and lists.
#[derive(Default)]
struct Model {
    /// (subject, owner) -> bonded.
    bonds: BTreeMap<(usize, Address), u128>,
    /// Per subject: (release_height, owner, amount), in release order.
    unbonding: [Vec<(u64, Address, u128)>; 2],
    balances: BTreeMap<Address, u128>,
    slashed: [u128; 2],
    used: Vec<Hash>,
}

impl Model {
    fn balance(&mut self, a: &Address) -> &mut u128 {
        self.balances.get_mut(a).expect("a tracked account")
    }

    fn parts(&self, s: usize) -> Vec<u128> {
        self.bonds
            .iter()
            .filter(|((x, _), _)| *x == s)
            .map(|(_, a)| *a)
            .chain(self.unbonding[s].iter().map(|u| u.2))
            .collect()
    }

    /// Splits `take` over `parts` by largest remainder: the naive way, on small numbers.
    fn split(parts: &[u128], take: u128) -> Vec<u128> {
        let total: u128 = parts.iter().sum();
        let mut shares: Vec<u128> = parts.iter().map(|p| p * take / total).collect();
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(parts[i] * take % total), i));
        let left = take - shares.iter().sum::<u128>();
        for &i in order.iter().take(left as usize) {
            shares[i] += 1;
        }
        shares
    }
}

fn subjects() -> [Subject; 2] {
    [
        Subject::Reporter {
            feed: "f".into(),
            reporter: key("alice").address(),
        },
        Subject::Reporter {
            feed: "g".into(),
            reporter: key("bob").address(),
        },
    ]
}

fn ctx(sender: Address, height: u64) -> ActionCtx {
    ActionCtx {
        sender,
        machine: None,
        env: BlockEnv {
            chain_id: 5,
            height,
            timestamp_ms: 0,
            proposer: Address([0xfe; 20]),
        },
        tx_index: 0,
        tx_nonce: 0,
        action_index: 0,
        session: None,
        bad_items: Vec::new(),
    }
}

fn balance(state: &impl StateRead, a: &Address) -> u128 {
    machina_bank::account(state, a).balance.0
}

fn code<T>(r: &Result<T, StakingError>) -> Option<&'static str> {
    r.as_ref().err().map(StakingError::code)
}

struct Run<'a> {
    state: Overlay<'a, SparseMerkleTree>,
    model: Model,
    height: u64,
    evidence: u64,
    subjects: [Subject; 2],
    people: Vec<Address>,
}

impl Run<'_> {
    fn bond(&mut self, who: usize, s: usize, units: u128) {
        let owner = self.people[who];
        let amount = units * UNIT;
        let part = self.model.bonds.get(&(s, owner)).copied().unwrap_or(0) + amount;
        let expect = (part < UNIT).then_some("bond_below_minimum");
        let r = machina_staking::bond(
            &mut self.state,
            &ctx(owner, self.height),
            &self.subjects[s],
            Amount(amount),
        );
        assert_eq!(code(&r), expect);
        if r.is_ok() {
            self.model.bonds.insert((s, owner), part);
            *self.model.balance(&owner) -= amount;
        }
    }

    fn unbond(&mut self, who: usize, s: usize, amount: u128) {
        let owner = self.people[who];
        let part = self.model.bonds.get(&(s, owner)).copied().unwrap_or(0);
        let release = self.height + StakingParams::default().reporter_unbonding_blocks;
        let merges = self.model.unbonding[s]
            .iter()
            .any(|u| u.0 == release && u.1 == owner);
        let pending: usize = self
            .model
            .unbonding
            .iter()
            .flatten()
            .filter(|u| u.1 == owner)
            .count();
        let expect = if amount > part {
            Some("not_bonded_enough")
        } else if part - amount > 0 && part - amount < UNIT {
            Some("bond_below_minimum")
        } else if !merges && pending >= machina_staking::MAX_UNBONDINGS_PER_ACCOUNT {
            Some("too_many_unbondings")
        } else {
            None
        };
        let r = machina_staking::unbond(
            &mut self.state,
            &ctx(owner, self.height),
            &self.subjects[s],
            Amount(amount),
        );
        assert_eq!(code(&r), expect);
        if r.is_err() {
            return;
        }
        if part == amount {
            self.model.bonds.remove(&(s, owner));
        } else {
            self.model.bonds.insert((s, owner), part - amount);
        }
        let list = &mut self.model.unbonding[s];
        match list.iter_mut().find(|u| u.0 == release && u.1 == owner) {
            Some(u) => u.2 += amount,
            None => {
                list.push((release, owner, amount));
                list.sort();
            }
        }
    }

    fn slash(&mut self, s: usize, bps: u32, replay: bool) {
        let evidence = match (replay, self.model.used.last()) {
            (true, Some(h)) => *h,
            _ => {
                self.evidence += 1;
                machina_staking::evidence_id(
                    EvidenceKind::SlaBreach,
                    &[&self.evidence.to_be_bytes()],
                )
            }
        };
        let prover = self.people[2];
        let payees = machina_staking::prover_and_pool(&self.state, &prover);
        let parts = self.model.parts(s);
        let staked: u128 = parts.iter().sum();
        let expect = if self.model.used.contains(&evidence) {
            Some("evidence_used")
        } else if staked == 0 {
            Some("nothing_staked")
        } else {
            None
        };
        let subject = self.subjects[s].clone();
        let r = machina_staking::slash(
            &mut self.state,
            self.height,
            &Slash {
                subject: &subject,
                kind: EvidenceKind::SlaBreach,
                evidence,
                bps,
                payees: &payees,
            },
        );
        assert_eq!(code(&r), expect);
        let Ok((taken, event)) = r else { return };
        let take = staked * u128::from(bps) / u128::from(BPS);
        assert_eq!(taken.0, take);
        let cuts = Model::split(&parts, take);
        let mut i = 0;
        for ((x, _), a) in self.model.bonds.iter_mut() {
            if *x == s {
                *a -= cuts[i];
                i += 1;
            }
        }
        self.model.bonds.retain(|_, a| *a > 0);
        for u in &mut self.model.unbonding[s] {
            u.2 -= cuts[i];
            i += 1;
        }
        let to_prover =
            take * u128::from(StakingParams::default().prover_share_bps) / u128::from(BPS);
        *self.model.balance(&prover) += to_prover;
        *self
            .model
            .balance(&machina_staking::insurance_pool_address()) += take - to_prover;
        assert_eq!(event.attrs["to_prover"], to_prover.to_string().as_str());
        self.model.slashed[s] += take;
        self.model.used.push(evidence);
    }

    fn advance(&mut self, blocks: u64) {
        for h in self.height..self.height + blocks {
            machina_staking::release_due(&mut self.state, h);
            let balances = &mut self.model.balances;
            for list in &mut self.model.unbonding {
                for u in list.iter().filter(|u| u.0 == h) {
                    *balances.get_mut(&u.1).expect("a tracked account") += u.2;
                }
                list.retain(|u| u.0 != h);
            }
        }
        self.height += blocks;
    }

    /// The module's state equals the model's.
    fn check(&self) {
        for (s, subject) in self.subjects.iter().enumerate() {
            let st = machina_staking::stake(&self.state, subject);
            let bonds: Vec<(Address, u128)> =
                st.bonds.iter().map(|b| (b.owner, b.amount.0)).collect();
            let model: Vec<(Address, u128)> = self
                .model
                .bonds
                .iter()
                .filter(|((x, _), _)| *x == s)
                .map(|((_, o), a)| (*o, *a))
                .collect();
            assert_eq!(bonds, model, "bonds of subject {s}");
            let unb: Vec<(u64, Address, u128)> = st
                .unbonding
                .iter()
                .map(|u| (u.release_height, u.owner, u.amount.0))
                .collect();
            assert_eq!(unb, self.model.unbonding[s], "unbondings of subject {s}");
            assert_eq!(st.slashed_total.0, self.model.slashed[s]);
        }
        for (a, b) in &self.model.balances {
            assert_eq!(balance(&self.state, a), *b, "balance of {a}");
        }
        let held: u128 = self.model.bonds.values().sum::<u128>()
            + self
                .model
                .unbonding
                .iter()
                .flatten()
                .map(|u| u.2)
                .sum::<u128>();
        assert_eq!(
            balance(&self.state, &machina_staking::escrow_address()),
            held
        );
        for (i, p) in self.people.iter().enumerate() {
            let a = machina_staking::account(&self.state, p);
            let subjects: Vec<usize> = (0..2)
                .filter(|s| self.model.bonds.contains_key(&(*s, *p)))
                .collect();
            assert_eq!(a.subjects.len(), subjects.len(), "subjects of {}", NAMES[i]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_module_follows_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut base = SparseMerkleTree::from_entries(std::iter::empty());
        base.apply(&Genesis::dev(5, 0, vec![]).changes().expect("genesis"));
        let supply = machina_bank::total_supply(&base);
        let people: Vec<Address> = NAMES.iter().map(|n| key(n).address()).collect();
        let mut model = Model::default();
        for a in people.iter().chain([&machina_staking::insurance_pool_address()]) {
            model.balances.insert(*a, balance(&base, a));
        }
        let mut run = Run {
            state: Overlay::new(&base),
            model,
            height: 1,
            evidence: 0,
            subjects: subjects(),
            people,
        };
        for op in ops {
            match op {
                Op::Bond { who, subject, units } => run.bond(who, subject, units),
                Op::Unbond { who, subject, micro } => run.unbond(who, subject, micro),
                Op::Slash { subject, bps, replay } => run.slash(subject, bps, replay),
                Op::Advance { blocks } => run.advance(blocks),
            }
            run.check();
            prop_assert_eq!(machina_bank::total_supply(&run.state), supply);
        }
        // Past every delay, all that is not bonded is back with its owners.
        run.advance(StakingParams::default().reporter_unbonding_blocks + 1);
        run.check();
        prop_assert!(run.model.unbonding.iter().all(Vec::is_empty));
    }
}

//! The shares module against a naive reference model on random sequences of revenue events,
//! transfers, claims and fee changes. The model credits every holder its exact share of each
//! event (a rational, kept as a numerator over the supply); the module's O(1) index must give
//! every holder the model's amount within the documented rounding (1 micro-unit), and the
//! totals must be exact: the pool holds to the micro-unit what holders have accrued plus the
//! carried dust.

mod common;
use common::*;
use machina_primitives::Keypair;
use machina_shares::{pool_address, SharesAction, BPS, PRECISION};
use machina_testkit::{key, Chain};
use proptest::prelude::*;
use std::collections::BTreeMap;

const HOLDERS: [&str; 4] = ["bob", "alice", "charlie", "dave"];

#[derive(Clone, Debug)]
enum Op {
    Revenue {
        m: usize,
        amount: u128,
    },
    Transfer {
        m: usize,
        from: usize,
        to: usize,
        amount: u64,
    },
    Claim {
        holder: usize,
        m: Option<usize>,
    },
    SetFee {
        m: usize,
        bps: u16,
    },
}

fn op(supply: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..3_000_000u128).prop_map(|(m, amount)| Op::Revenue { m, amount }),
        4 => (0..2usize, 0..4usize, 0..4usize, 1..=supply)
            .prop_map(|(m, from, to, amount)| Op::Transfer { m, from, to, amount }),
        2 => (0..4usize, proptest::option::of(0..2usize))
            .prop_map(|(holder, m)| Op::Claim { holder, m }),
        1 => (0..2usize, 0..=BPS).prop_map(|(m, bps)| Op::SetFee { m, bps }),
    ]
}

/// One machine as the model sees it.
struct ModelClass {
    supply: u64,
    fee_bps: u16,
    max_fee_bps: u16,
    balances: [u64; 4],
    /// Each holder's exact unclaimed revenue × supply.
    owed: [u128; 4],
    fees: u128,
    to_holders: u128,
    claimed: u128,
}

impl ModelClass {
    fn revenue(&mut self, amount: u128) {
        let fee = amount * u128::from(self.fee_bps) / u128::from(BPS);
        let rest = amount - fee;
        for (o, b) in self.owed.iter_mut().zip(self.balances) {
            *o += rest * u128::from(b);
        }
        self.fees += fee;
        self.to_holders += rest;
    }

    /// The holder's exact claim, rounded down to a micro-unit.
    fn claimable(&self, h: usize) -> u128 {
        self.owed[h] / u128::from(self.supply)
    }
}

struct Run {
    c: Chain,
    keys: Vec<Keypair>,
    machines: [u64; 2],
    model: [ModelClass; 2],
}

impl Run {
    fn new(supply: u64, fees: [u16; 2]) -> Run {
        let mut c = chain(100_000_000_000);
        let keys: Vec<Keypair> = HOLDERS.iter().map(|n| key(n)).collect();
        let machines = [
            machine(&mut c, &keys[0], "pv-0"),
            machine(&mut c, &keys[0], "pv-1"),
        ];
        let model = [0, 1].map(|i| {
            c.ok(&keys[0], vec![issue(machines[i], supply, fees[i], false)]);
            ModelClass {
                supply,
                fee_bps: fees[i],
                max_fee_bps: fees[i],
                balances: [supply, 0, 0, 0],
                owed: [0; 4],
                fees: 0,
                to_holders: 0,
                claimed: 0,
            }
        });
        Run {
            c,
            keys,
            machines,
            model,
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Revenue { m, amount } => {
                let e = revenue(&mut self.c, self.machines[m], amount);
                assert_eq!(
                    e.is_some(),
                    amount > 0,
                    "a revenue event when there was revenue"
                );
                self.model[m].revenue(amount);
            }
            Op::Transfer {
                m,
                from,
                to,
                amount,
            } => {
                let r = self
                    .c
                    .send(
                        &self.keys[from],
                        vec![send(self.machines[m], &self.keys[to], amount)],
                    )
                    .expect("included");
                let mc = &mut self.model[m];
                let allowed = from != to && mc.balances[from] >= amount;
                assert_eq!(r.success, allowed, "{op:?}: {:?}", r.error);
                if allowed {
                    mc.balances[from] -= amount;
                    mc.balances[to] += amount;
                }
            }
            Op::Claim { holder, m } => self.claim(holder, m),
            Op::SetFee { m, bps } => {
                let change = machina_shares::RulesChange {
                    operator_fee_bps: Some(bps),
                    ..Default::default()
                };
                let action = SharesAction::SetShareRules {
                    machine_id: self.machines[m],
                    change,
                };
                let r = self
                    .c
                    .send(&self.keys[0], vec![action.into()])
                    .expect("included");
                let mc = &mut self.model[m];
                assert_eq!(r.success, bps <= mc.max_fee_bps, "{:?}", r.error);
                if r.success {
                    mc.fee_bps = bps;
                } else {
                    assert_eq!(
                        r.error.as_ref().expect("refused").code,
                        "operator_fee_raised"
                    );
                }
            }
        }
    }

    fn claim(&mut self, holder: usize, m: Option<usize>) {
        let before: Vec<u128> = (0..2)
            .map(|i| claimable(&self.c, self.machines[i], &self.keys[holder]))
            .collect();
        let r = self
            .c
            .send(&self.keys[holder], vec![claim(m.map(|i| self.machines[i]))])
            .expect("included");
        let asked: Vec<usize> = m.map_or(vec![0, 1], |i| vec![i]);
        if !r.success {
            assert_eq!(r.error.as_ref().expect("refused").code, "nothing_to_claim");
            assert!(
                asked.iter().all(|i| before[*i] == 0),
                "refused with revenue to claim"
            );
            return;
        }
        let mut paid = BTreeMap::new();
        for e in r.events.iter().filter(|e| e.kind == "claimed") {
            let id: u64 = e.attrs["machine_id"].parse().expect("id");
            let amount: u128 = e.attrs["amount"].parse().expect("amount");
            paid.insert(id, amount);
        }
        for i in asked {
            let got = paid.get(&self.machines[i]).copied().unwrap_or(0);
            assert_eq!(got, before[i], "a claim pays exactly what was claimable");
            let mc = &mut self.model[i];
            mc.owed[holder] -= got * u128::from(mc.supply);
            mc.claimed += got;
        }
    }

    /// Every holder within 1 micro-unit of the model; the totals exact.
    fn check(&self) {
        let mut pool_owed = 0u128;
        for (i, mc) in self.model.iter().enumerate() {
            let id = self.machines[i];
            let class = machina_shares::class(&self.c.state, id).expect("issued");
            let mut sum_balance = 0;
            for (h, k) in self.keys.iter().enumerate() {
                let p = machina_shares::position(&self.c.state, id, &k.address());
                assert_eq!(
                    p.balance, mc.balances[h],
                    "holder {h} of machine {i}: balance"
                );
                sum_balance += p.balance;
                let got = claimable(&self.c, id, k);
                let want = mc.claimable(h);
                assert!(
                    got.abs_diff(want) <= 1,
                    "holder {h} of machine {i}: module {got}, model {want}"
                );
                pool_owed += p.accrued + u128::from(p.balance) * (class.index - p.paid_index);
            }
            pool_owed += class.dust;
            assert_eq!(sum_balance, mc.supply, "shares are conserved");
            let holders = mc.balances.iter().filter(|b| **b > 0).count() as u32;
            assert_eq!(class.holders, holders, "the holder count");
            assert_eq!(class.fees_total.0, mc.fees, "operator fees exact");
            assert_eq!(
                class.to_holders_total.0, mc.to_holders,
                "holders' revenue exact"
            );
            assert_eq!(class.claimed_total.0, mc.claimed, "claims exact");
        }
        let pool = self.c.balance(&pool_address());
        assert_eq!(
            pool * PRECISION,
            pool_owed,
            "the pool holds what is accrued plus dust"
        );
        let unclaimed: u128 = self.model.iter().map(|m| m.to_holders - m.claimed).sum();
        assert_eq!(
            pool, unclaimed,
            "every micro-unit to holders is in the pool or claimed"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_index_pays_every_holder_what_the_naive_model_does(
        supply in prop_oneof![Just(1u64), Just(3), Just(7), 1..1_000_000u64, Just(1_000_000_000_000_000)],
        fees in [0..=BPS, 0..=BPS],
        ops in proptest::collection::vec(op(1_000), 1..40),
    ) {
        let mut run = Run::new(supply, fees);
        let market_before = run.c.balance(&market().address());
        let mut paid_in = 0u128;
        for o in &ops {
            // Transfers are of at most the supply.
            let o = match *o {
                Op::Transfer { m, from, to, amount } => Op::Transfer {
                    m, from, to, amount: 1 + (amount - 1) % supply,
                },
                ref other => other.clone(),
            };
            if let Op::Revenue { amount, .. } = o {
                paid_in += amount;
            }
            run.apply(&o);
            run.check();
        }
        let market_after = run.c.balance(&market().address());
        prop_assert_eq!(market_before - market_after, paid_in, "revenue came from the market only");
    }
}

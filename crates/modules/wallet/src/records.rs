//! The wallet's stored records.

use machina_primitives::action::SpendPolicy;
use machina_primitives::codec::{put_len, put_str, Decode, Encode, Reader, Result};
use machina_primitives::limits::{MAX_LABEL_BYTES, MAX_SESSION_ACTIONS};
use machina_primitives::Amount;
use serde::{Deserialize, Serialize};

/// Buckets of the rolling window: the window is tracked in at most this many buckets (plus the
/// current one), so its state is bounded whatever the window's length.
pub const WINDOW_BUCKETS: u64 = 32;

/// A machine wallet's policy and whether it is frozen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    /// The policy its owner set.
    pub policy: SpendPolicy,
    /// Frozen: nothing leaves.
    pub frozen: bool,
}

impl Encode for Wallet {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.policy.encode_to(out);
        self.frozen.encode_to(out);
    }
}

impl Decode for Wallet {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Wallet {
            policy: Decode::decode_from(r)?,
            frozen: r.bool()?,
        })
    }
}

/// What a machine wallet has spent, for its caps and cooldown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendState {
    /// `(bucket, micro-units)` of recent spends, oldest first.
    pub buckets: Vec<(u64, Amount)>,
    /// No spend is allowed at heights up to and including this one.
    pub cooldown_through: Option<u64>,
    /// The transaction whose spends `tx_spent` counts, as `(height, index in block)`.
    pub tx_marker: (u64, u64),
    /// Spent so far by that transaction.
    pub tx_spent: Amount,
}

impl Encode for SpendState {
    fn encode_to(&self, out: &mut Vec<u8>) {
        put_len(out, self.buckets.len());
        for (b, a) in &self.buckets {
            b.encode_to(out);
            a.encode_to(out);
        }
        self.cooldown_through.encode_to(out);
        self.tx_marker.0.encode_to(out);
        self.tx_marker.1.encode_to(out);
        self.tx_spent.encode_to(out);
    }
}

impl Decode for SpendState {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let n = r.len("spend buckets", WINDOW_BUCKETS as usize + 1)?;
        let mut buckets = Vec::with_capacity(n);
        for _ in 0..n {
            buckets.push((r.u64()?, Amount::decode_from(r)?));
        }
        Ok(SpendState {
            buckets,
            cooldown_through: Decode::decode_from(r)?,
            tx_marker: (r.u64()?, r.u64()?),
            tx_spent: Decode::decode_from(r)?,
        })
    }
}

/// Rights an owner granted a session key on a machine's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The owner who granted it: the key stops working when the machine changes hands.
    pub granted_by: machina_primitives::Address,
    /// Names of the actions it may use.
    pub actions: Vec<String>,
    /// Most it may move out in total, fees included.
    pub spend_cap: Amount,
    /// What it moved out so far.
    pub spent: Amount,
    /// Last height it is valid at.
    pub expiry_height: u64,
}

impl Encode for Session {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.granted_by.encode_to(out);
        put_len(out, self.actions.len());
        for a in &self.actions {
            put_str(out, a);
        }
        self.spend_cap.encode_to(out);
        self.spent.encode_to(out);
        self.expiry_height.encode_to(out);
    }
}

impl Decode for Session {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let granted_by = Decode::decode_from(r)?;
        let n = r.len("session actions", MAX_SESSION_ACTIONS)?;
        let actions = (0..n)
            .map(|_| r.string("session action", MAX_LABEL_BYTES))
            .collect::<Result<_>>()?;
        Ok(Session {
            granted_by,
            actions,
            spend_cap: Decode::decode_from(r)?,
            spent: Decode::decode_from(r)?,
            expiry_height: r.u64()?,
        })
    }
}

/// Fees a sponsor agreed to pay for a grantee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    /// Micro-units of fees left.
    pub remaining: Amount,
    /// Last height it is valid at.
    pub expiry_height: u64,
}

impl Encode for Allowance {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.remaining.encode_to(out);
        self.expiry_height.encode_to(out);
    }
}

impl Decode for Allowance {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Allowance {
            remaining: Decode::decode_from(r)?,
            expiry_height: r.u64()?,
        })
    }
}

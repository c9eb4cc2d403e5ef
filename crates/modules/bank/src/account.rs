//! Account records and how an account authorises transactions.

use machina_primitives::codec::{put_vec, Decode, Encode, Reader, Result};
use machina_primitives::limits::MAX_MULTISIG_MEMBERS;
use machina_primitives::{Address, Amount, CodecError, PublicKey};
use serde::{Deserialize, Serialize};

/// Who may sign for an account. Stored with the account so that the address never changes
/// when the authorisation does (machine key rotation, multisig members).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Authorization {
    /// The key whose derived address is the account's address (every fresh account).
    #[default]
    AddressKey,
    /// A machine's account: its current device key signs; its owner sets its spending policy.
    Machine {
        /// The machine.
        machine_id: u64,
        /// The current device key.
        device_key: PublicKey,
    },
    /// A revoked machine's account: nobody signs for it any more (its owner can still sweep).
    Revoked {
        /// The machine.
        machine_id: u64,
    },
    /// An M-of-N multisig account.
    Multisig {
        /// Signatures needed.
        threshold: u8,
        /// Member keys.
        members: Vec<PublicKey>,
    },
}

impl Authorization {
    /// Whether `signers` (whose signatures are already verified) may act for `account` on their
    /// own authority (session keys are checked elsewhere).
    pub fn allows(&self, account: &Address, signers: &[PublicKey]) -> bool {
        match self {
            Authorization::AddressKey => signers.iter().any(|k| k.address() == *account),
            Authorization::Machine { device_key, .. } => signers.contains(device_key),
            Authorization::Revoked { .. } => false,
            Authorization::Multisig { threshold, members } => {
                let mut present: Vec<&PublicKey> =
                    signers.iter().filter(|k| members.contains(k)).collect();
                present.sort();
                present.dedup();
                present.len() >= usize::from(*threshold)
            }
        }
    }

    /// The machine this account belongs to, if it is a machine's.
    pub fn machine_id(&self) -> Option<u64> {
        match self {
            Authorization::Machine { machine_id, .. } | Authorization::Revoked { machine_id } => {
                Some(*machine_id)
            }
            _ => None,
        }
    }
}

/// An account: balance, next nonce and authorisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Account {
    /// Spendable micro-units.
    pub balance: Amount,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
    /// Who may sign for it.
    pub auth: Authorization,
}

impl Encode for Account {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.balance.encode_to(out);
        self.nonce.encode_to(out);
        match &self.auth {
            Authorization::AddressKey => out.push(0),
            Authorization::Machine {
                machine_id,
                device_key,
            } => {
                out.push(1);
                machine_id.encode_to(out);
                device_key.encode_to(out);
            }
            Authorization::Revoked { machine_id } => {
                out.push(2);
                machine_id.encode_to(out);
            }
            Authorization::Multisig { threshold, members } => {
                out.push(3);
                threshold.encode_to(out);
                put_vec(out, members);
            }
        }
    }
}

impl Decode for Account {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let balance = Amount::decode_from(r)?;
        let nonce = r.u64()?;
        let auth = match r.u8()? {
            0 => Authorization::AddressKey,
            1 => Authorization::Machine {
                machine_id: r.u64()?,
                device_key: PublicKey::decode_from(r)?,
            },
            2 => Authorization::Revoked {
                machine_id: r.u64()?,
            },
            3 => Authorization::Multisig {
                threshold: r.u8()?,
                members: r.vec("multisig members", MAX_MULTISIG_MEMBERS)?,
            },
            tag => {
                return Err(CodecError::BadTag {
                    what: "authorization",
                    tag,
                })
            }
        };
        Ok(Account {
            balance,
            nonce,
            auth,
        })
    }
}

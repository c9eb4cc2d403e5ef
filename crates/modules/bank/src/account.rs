//! Account records and how an account authorises transactions.

use machina_primitives::limits::MAX_MULTISIG_MEMBERS;
use machina_primitives::{Address, Amount, Decode, Encode, PublicKey};
use serde::{Deserialize, Serialize};

/// Who may sign for an account. Stored with the account so that the address never changes
/// when the authorisation does (machine key rotation, multisig members).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case")]
#[codec(what = "authorization")]
pub enum Authorization {
    /// The key whose derived address is the account's address (every fresh account).
    #[default]
    #[codec(tag = 0)]
    AddressKey,
    /// A machine's account: its current device key signs; its owner sets its spending policy.
    #[codec(tag = 1)]
    Machine {
        /// The machine.
        machine_id: u64,
        /// The current device key.
        device_key: PublicKey,
    },
    /// A revoked machine's account: nobody signs for it any more (its owner can still sweep).
    #[codec(tag = 2)]
    Revoked {
        /// The machine.
        machine_id: u64,
    },
    /// An M-of-N multisig account.
    #[codec(tag = 3)]
    Multisig {
        /// Signatures needed.
        threshold: u8,
        /// Member keys.
        #[codec(max = MAX_MULTISIG_MEMBERS, what = "multisig members")]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default, Encode, Decode)]
pub struct Account {
    /// Spendable micro-units.
    pub balance: Amount,
    /// The nonce the next transaction from this account must carry.
    pub nonce: u64,
    /// Who may sign for it.
    pub auth: Authorization,
}

//! Account records and how an account authorises transactions.

use machina_primitives::codec::{Decode, Encode, Reader, Result};
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
    /// One explicit ed25519 key, e.g. a machine's current device key.
    Ed25519 {
        /// The key.
        public_key: PublicKey,
    },
}

impl Authorization {
    /// Whether a transaction from `account` signed by `signers` (whose signatures are already
    /// verified) is authorised.
    pub fn allows(&self, account: &Address, signers: &[PublicKey]) -> bool {
        match self {
            Authorization::AddressKey => signers.iter().any(|k| k.address() == *account),
            Authorization::Ed25519 { public_key } => signers.contains(public_key),
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
            Authorization::Ed25519 { public_key } => {
                out.push(1);
                out.extend_from_slice(&public_key.0);
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
            1 => Authorization::Ed25519 {
                public_key: PublicKey(r.array()?),
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

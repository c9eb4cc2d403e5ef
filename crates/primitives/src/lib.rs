//! Machina primitives: addresses, hashes, signatures, amounts, the canonical codec,
//! transactions and blocks.
//!
//! Layer 0 of the workspace: no I/O, no clock, no randomness except key generation, which
//! callers ask for explicitly. Everything that crosses a trust boundary is decoded here with
//! explicit limits (see [`limits`]) and decoding never panics.

// The codec derive names this crate by its path, inside it as everywhere else.
extern crate self as machina_primitives;

pub mod address;
pub mod amount;
pub mod block;
pub mod codec;
pub mod crypto;
pub mod hash;
pub mod hex_serde;
pub mod limits;
pub mod prorata;
pub mod receipt;
pub mod tx;

pub use address::Address;
pub use amount::Amount;
pub use block::{Block, BlockEnv, BlockHeader};
pub use codec::{CodecError, Decode, Encode, Reader};
pub use crypto::{Keypair, PublicKey, Signature};
pub use hash::{sha256, Hash};
pub use receipt::{AttrValue, Event, Receipt, TxFailure};
pub use tx::{Envelope, Transaction, TxBody, TxSignature};

/// The chain id of a dev chain started by `machina dev`.
pub const DEV_CHAIN_ID: u64 = 8645;

//! Named limits of the protocol. Each bound says why it has the value it has.

/// Largest encoded transaction. A transfer is about 200 bytes; a batch of
/// [`MAX_READINGS_PER_TX`] signed meter readings (about 150 bytes each) is about 600 KiB, so a
/// gateway can batch thousands while one transaction stays a small part of a block.
pub const MAX_TX_BYTES: usize = 1024 * 1024;

/// Most meter readings in one transaction: a gateway batches thousands; bounded so that one
/// transaction's execution stays short.
pub const MAX_READINGS_PER_TX: usize = 4096;

/// Most reporters of one data feed: a median over a few dozen bonded reporters resists a
/// minority of liars; more would only add cost per round.
pub const MAX_FEED_REPORTERS: usize = 32;

/// Most feed reports in one transaction: one round of every reporter of a few feeds.
pub const MAX_REPORTS_PER_TX: usize = 256;

/// Most actions in one transaction: enough to batch a machine's routine work, small enough that
/// the cost of one transaction stays predictable.
pub const MAX_ACTIONS_PER_TX: usize = 64;

/// Most signatures on one transaction: an M-of-N multisig account has at most this many members.
pub const MAX_SIGNATURES_PER_TX: usize = 16;

/// Most transactions in one block: bounds the execution time and the memory of one block.
pub const MAX_BLOCK_TXS: usize = 50_000;

/// Largest encoded block: `MAX_BLOCK_TXS` transfers fit with room to spare.
pub const MAX_BLOCK_BYTES: usize = 32 * 1024 * 1024;

/// Most events one receipt carries.
pub const MAX_EVENTS_PER_RECEIPT: usize = 256;

/// Most events the modules' block hooks (clearing, settlement, ...) leave in one block; more
/// are summarised by a last `events_truncated` event. Their work per block is bounded, so this
/// is only reached by a chain with very many zones catching up.
pub const MAX_BLOCK_EVENTS: usize = 4096;

/// Longest string (event keys and values, error messages) in a canonical encoding.
pub const MAX_STRING_BYTES: usize = 4096;

/// Most attributes one event carries.
pub const MAX_EVENT_ATTRS: usize = 16;

/// Longest short text on chain: a machine's manufacturer, model, serial, zone, a manufacturer's
/// name, a metadata key or value. Enough for any real label; keeps a machine record small.
pub const MAX_LABEL_BYTES: usize = 64;

/// Most free key-value pairs in a machine's metadata.
pub const MAX_METADATA_PAIRS: usize = 8;

/// Most counterparties on a wallet's allowlist: a machine pays a handful of known parties.
pub const MAX_ALLOWLIST: usize = 32;

/// Most members of a multisig account: each may sign, and a transaction carries at most
/// `MAX_SIGNATURES_PER_TX` signatures.
pub const MAX_MULTISIG_MEMBERS: usize = MAX_SIGNATURES_PER_TX;

/// Most action kinds a session key may be granted.
pub const MAX_SESSION_ACTIONS: usize = 16;

/// Most characters of one piece of user input an error message quotes: a 10 MB bad string
/// must not come back as a 10 MB error.
pub const MAX_QUOTE_CHARS: usize = 64;

/// User input as an error message quotes it: whole if short, otherwise its first
/// [`MAX_QUOTE_CHARS`] characters and its length, e.g. `0xabab…(1048576 bytes)`.
pub fn quote_prefix(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTE_CHARS) {
        None => s.to_owned(),
        Some((end, _)) => format!("{}…({} bytes)", &s[..end], s.len()),
    }
}

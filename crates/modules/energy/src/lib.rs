//! Machina energy module: interval double auctions for neighbourhood energy, cleared on chain.
//!
//! Layer 2. This first part is the clearing itself, a pure function over an order book: the
//! same code clears an interval on chain and runs offline in `machina energy clear`, so users
//! can try strategies and auditors can re-check an interval.

pub mod clearing;

pub use clearing::{clear, Clearing, Order, PricingRule};

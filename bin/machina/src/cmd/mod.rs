//! The commands of `machina`, one file each.

pub mod dev;
pub mod devnet;
pub mod energy;
pub mod keys;
pub mod query;
pub mod tx;

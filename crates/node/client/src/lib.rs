//! What Machina's command-line programs share: the blocking HTTP client of the node's API, the
//! keystore, output that ends quietly on a closed pipe, logs, and child validator processes.
//!
//! Layer 5 support, used by the `machina` binary, the demo and the bench; not by any node.

pub mod http;
pub mod keystore;
pub mod output;
pub mod process;

pub use http::{node_url, Client, NodeError};
pub use keystore::Keystore;
pub use output::{init_logs, print, print_line, quiet_on_closed_stdout};

//! The commands of `machina`, one file each.

pub mod dev;
pub mod devnet;
pub mod energy;
pub mod keys;
pub mod query;
pub mod tx;

/// Ctrl-C and SIGTERM, caught from the moment it is installed: from then on either asks the
/// process to stop cleanly instead of ending it. Install it before the node starts serving, so
/// that a signal sent as soon as the node answers is not lost to the default action.
pub struct StopSignal {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    /// Registers both handlers; needs a Tokio runtime's context.
    pub fn install() -> anyhow::Result<StopSignal> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignal {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for either and says which it was.
    pub async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "interrupt",
            _ = self.terminate.recv() => "terminate",
        }
    }
}

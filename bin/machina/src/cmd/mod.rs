//! The commands of `machina`, one file each.

pub mod dev;
pub mod devnet;
pub mod energy;
pub mod keys;
pub mod query;
pub mod tx;

/// Waits for Ctrl-C or SIGTERM, either of which asks the process to stop cleanly; returns
/// which it was.
pub async fn stop_signal() -> anyhow::Result<&'static str> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => {
            r?;
            Ok("interrupt")
        }
        _ = term.recv() => Ok("terminate"),
    }
}

//! `machina demo --serve`: after the simulated day the chain and its HTTP API stay up, so a new
//! user can explore what just happened in the dashboard, until Ctrl-C or SIGTERM.

use std::io::Write;

/// Prints the dashboard's URL (on stderr with `--json`, which keeps stdout for the report),
/// then waits for Ctrl-C or SIGTERM.
pub(crate) fn wait(rt: &tokio::runtime::Runtime, url: &str, json: bool) -> anyhow::Result<()> {
    let line = format!("dashboard: {url}/ui");
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
        println!("The chain keeps running; Ctrl-C stops it.");
    }
    std::io::stdout().flush()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })
}

//! Child processes of the `machina` binary, for programs that run a network of validators.

use anyhow::Context;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `machina validator --config CONFIG` as a child process of the running binary.
pub fn spawn_validator(config: &Path, stdout: Stdio, stderr: Stdio) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("locating the machina binary")?;
    Ok(Command::new(exe)
        .arg("validator")
        .arg("--config")
        .arg(config)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()?)
}

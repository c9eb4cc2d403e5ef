//! The README's examples, run as written against a real dev node, in order.
//!
//! Between the `readme-test` markers, every `machina ...` line of a `sh` block is run with
//! `sh -c` (so `$NAME` expands), with the keystore and node set by environment. A following
//! `#   error: CODE: ...` line means the command must fail with that code; a line
//! `NAME=…  # "field" printed above` sets `NAME` from the previous command's JSON output.
//! Commands that start long-running processes or need files of the reader's are skipped and
//! listed in [`SKIPPED`].

use serde_json::Value;
use std::path::Path;
use std::process::Command;

mod common;
use common::{free_port, start_dev, BIN};
const README: &str = include_str!("../../../README.md");

/// Commands the test does not run: servers that never exit, benchmarks, and a book file the
/// reader brings.
const SKIPPED: [&str; 6] = [
    "machina gateway",
    "machina bench",
    "machina energy clear",
    "machina devnet",
    "machina validator",
    "machina dev",
];

enum Step {
    Run { cmd: String, error: Option<String> },
    Set { name: String, field: String },
}

/// The sh lines between the markers, continuation lines joined.
fn lines() -> Vec<String> {
    let begin = README
        .find("<!-- readme-test: begin -->")
        .expect("begin marker");
    let end = README
        .find("<!-- readme-test: end -->")
        .expect("end marker");
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in README[begin..end].lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            _ if in_sh => {
                pending.push_str(line.trim_end_matches('\\').trim_start());
                if line.ends_with('\\') {
                    pending.push(' ');
                } else {
                    out.push(std::mem::take(&mut pending));
                }
            }
            _ => {}
        }
    }
    out
}

/// Strips a trailing `# comment` (two spaces or more before it, as the README writes them).
fn strip_comment(line: &str) -> &str {
    line.find("  #").map_or(line, |i| &line[..i]).trim()
}

fn steps() -> Vec<Step> {
    let mut steps = Vec::new();
    for line in lines() {
        if let Some(rest) = line.strip_prefix("#   error: ") {
            let code = rest.split(':').next().unwrap_or("").trim().to_owned();
            match steps.last_mut() {
                Some(Step::Run { error, .. }) => *error = Some(code),
                _ => panic!("an expected error follows no command: {line}"),
            }
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else if let Some((name, _)) = line
            .split_once('=')
            .filter(|_| !line.starts_with("machina"))
        {
            let field = line
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("{line}: name the field in quotes"))
                .to_owned();
            steps.push(Step::Set {
                name: name.trim().to_owned(),
                field,
            });
        } else {
            for cmd in strip_comment(&line).split("&&") {
                let cmd = cmd.trim().to_owned();
                assert!(
                    cmd.starts_with("machina "),
                    "README line is no machina command: {cmd}"
                );
                if !SKIPPED
                    .iter()
                    .any(|s| cmd == *s || cmd.starts_with(&format!("{s} ")))
                {
                    steps.push(Step::Run { cmd, error: None });
                }
            }
        }
    }
    steps
}

#[test]
fn every_readme_example_runs_as_written() {
    let steps = steps();
    assert!(
        steps.len() >= 20,
        "the README test found only {} steps",
        steps.len()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let url = node.url.clone();
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut last_stdout = String::new();
    for step in steps {
        match step {
            Step::Set { name, field } => {
                let v: Value = serde_json::from_str(last_stdout.trim()).unwrap_or_else(|e| {
                    panic!("{name}: the previous output is not JSON ({e}): {last_stdout}")
                });
                let value = match &v[&field] {
                    Value::String(s) => s.clone(),
                    Value::Null => panic!("{name}: no \"{field}\" in {v}"),
                    other => other.to_string(),
                };
                vars.push((name, value));
            }
            Step::Run { cmd, error } => {
                let out = Command::new("sh")
                    .args(["-c", &cmd])
                    .env("PATH", &path)
                    .env("MACHINA_NODE", &url)
                    .env("MACHINA_KEYSTORE", tmp.path().join("keys.json"))
                    .envs(vars.iter().map(|(k, v)| (k, v)))
                    .output()
                    .expect("run sh");
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                match error {
                    None => assert!(
                        out.status.success(),
                        "README command failed: {cmd}\n{stdout}{stderr}"
                    ),
                    Some(code) => {
                        assert!(!out.status.success(), "README command should fail: {cmd}");
                        assert!(
                            stderr.contains(&code),
                            "{cmd}: expected {code}, got {stdout}{stderr}"
                        );
                        assert!(!stderr.contains("panicked"), "{cmd} panicked: {stderr}");
                    }
                }
                last_stdout = stdout;
            }
        }
    }
}

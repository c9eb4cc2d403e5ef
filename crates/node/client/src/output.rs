//! Output of the command-line programs: lines on stdout that end quietly when the reader
//! goes away, and logs on stderr.

/// Prints `v` as one JSON line with `--json`, else the sentence `human` makes.
pub fn print(json: bool, v: &serde_json::Value, human: impl FnOnce() -> String) {
    let text = if json { v.to_string() } else { human() };
    print_line(&text);
}

/// Writes a line to stdout. When the reader has gone (`machina keys list | head -1`) there is
/// no one left to tell: the process ends quietly with success, as Unix filters do.
pub fn print_line(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// The same for output printed with `println!`, which panics on a closed pipe: that panic
/// ends the process quietly instead of printing a backtrace hint. Any other panic is reported
/// as usual.
pub fn quiet_on_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info)
    }));
}

/// Logs to stderr (JSON lines with `json`), at `RUST_LOG` or info with Commonware's views
/// at warn.
pub fn init_logs(json: bool) {
    // Commonware logs every view at info; its warnings are what an operator needs.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,commonware_consensus=warn,commonware_p2p=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

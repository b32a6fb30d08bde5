//! The `podseed` binary: parse arguments, set up logging, run, map errors to exit codes.

use clap::Parser;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

fn main() {
    let cli = podseed::cli::Cli::parse();
    let out = podseed::cli::output_args(&cli);
    let default_level = if out.verbose {
        "debug"
    } else if out.quiet {
        "error"
    } else {
        "info"
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // Colours only for a person at a terminal, and never with NO_COLOR (no-color.org).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour);
    if out.json && matches!(cli.command, podseed::cli::Command::Serve(_)) {
        // `serve --json`: one JSON object per log line, with its time, for log collectors.
        logs.json().init();
    } else {
        logs.without_time().init();
    }
    if let Err(e) = podseed::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}

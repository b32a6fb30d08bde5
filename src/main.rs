//! The `podseed` binary: parse arguments, set up logging, run, map errors to exit codes.

use clap::Parser;
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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    if let Err(e) = podseed::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}

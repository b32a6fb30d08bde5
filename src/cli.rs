//! Command-line interface: clap definitions and the glue from arguments to library calls.
//!
//! Each command returns a typed error; `main.rs` maps it to the exit code (0 ok, 1 runtime
//! or I/O failure, 2 bad usage, config or media). Nothing here knows feed or torrent formats.
//! It is the one module that prints for humans, hence the lint below.

#![allow(clippy::print_stdout)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError, PLACEHOLDER_COVER, STARTER_YAML};
use crate::publish::{self, PublishError, Summary};

/// podseed: publish a podcast over HTTP and BitTorrent.
#[derive(Debug, Parser)]
#[command(name = "podseed", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter podcast.yaml and an episodes/ folder.
    Init {
        /// Folder to initialise (default: the current one).
        dir: Option<PathBuf>,
    },
    /// Build the output folder: feeds, torrents, page (incremental).
    Publish(PublishArgs),
    /// Serve the output folder over HTTP (site + web seed) and run the tracker.
    Serve(ServeArgs),
    /// Check the show without writing anything: what publish validates, Apple's and the
    /// podcast namespace's rules, and with --online the public URLs and the trackers.
    ///
    /// Exit status: 0 when clean, 1 when only warnings remain, 2 when there are errors.
    Check(CheckArgs),
}

/// `podseed check` arguments.
#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 clean, 1 only warnings, 2 errors.")]
pub struct CheckArgs {
    /// The config file.
    #[arg(long, short, default_value = "podcast.yaml")]
    pub config: PathBuf,
    /// Output folder whose manifest spares hashing unchanged files (default: output_dir).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also fetch every public URL the feed names and announce to every tracker.
    #[arg(long)]
    pub online: bool,
    /// Output options (--json lists every finding: rule, severity, place, message, fix).
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `podseed serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, short, default_value = "podcast.yaml")]
    pub config: PathBuf,
    /// Output folder to serve (overrides output_dir in the config).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Once every listener is up, write their bound addresses here as JSON.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Output options.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Output options shared by commands.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct OutputArgs {
    /// Print a machine-readable JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Log more (same as RUST_LOG=debug).
    #[arg(long, short)]
    pub verbose: bool,
}

/// `podseed publish` arguments.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The config file.
    #[arg(long, short, default_value = "podcast.yaml")]
    pub config: PathBuf,
    /// Output folder (overrides output_dir in the config).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Re-read and re-hash every episode, ignoring the cache.
    #[arg(long)]
    pub force: bool,
    /// Then serve the result (site, tracker, seeder) in the same process, as `podseed serve`.
    #[arg(long)]
    pub serve: bool,
    /// With --serve: write the bound addresses here as JSON once every listener is up.
    #[arg(long, requires = "serve")]
    pub ready_file: Option<PathBuf>,
    /// Output options.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// A command failure, carrying its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Publishing failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Serving failed.
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    /// `check` found problems (they are printed already).
    #[error("check found {errors} error(s) and {warnings} warning(s)")]
    Check {
        /// Findings of severity error.
        errors: usize,
        /// Findings of severity warning.
        warnings: usize,
    },
    /// `init` would overwrite or could not write.
    #[error("{message}")]
    Init {
        /// What went wrong and what to do.
        message: String,
        /// Whether the user can fix it (exit 2) or the system failed (exit 1).
        usage: bool,
    },
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Publish(e) if e.is_user_error() => 2,
            CliError::Publish(_) => 1,
            CliError::Serve(e) if e.is_user_error() => 2,
            CliError::Serve(_) => 1,
            CliError::Check { errors, .. } if *errors > 0 => 2,
            CliError::Check { .. } => 1,
            CliError::Init { usage: true, .. } => 2,
            CliError::Init { usage: false, .. } => 1,
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::Publish(PublishError::Config(e))
    }
}

/// The output options of the command, for logging set-up.
pub fn output_args(cli: &Cli) -> OutputArgs {
    match &cli.command {
        Command::Init { .. } => OutputArgs::default(),
        Command::Publish(a) => a.out,
        Command::Serve(a) => a.out,
        Command::Check(a) => a.out,
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Init { dir } => init(dir.as_deref().unwrap_or(Path::new("."))),
        Command::Publish(args) => run_publish(&args),
        Command::Check(args) => run_check(&args),
        Command::Serve(args) => {
            let config = load_config(&args.config, args.output.as_deref())?;
            let opts = crate::serve::Options {
                output_dir: args.output.clone(),
                ready_file: args.ready_file.clone(),
            };
            Ok(crate::serve::run(&config, &opts)?)
        }
    }
}

fn init(dir: &Path) -> Result<(), CliError> {
    let config = dir.join("podcast.yaml");
    if config.exists() {
        return Err(CliError::Init {
            message: format!(
                "{} already exists; podseed init never overwrites a config (edit it, or init another folder)",
                config.display()
            ),
            usage: true,
        });
    }
    let fail = |e: std::io::Error, p: &Path| CliError::Init {
        message: format!("cannot write {}: {e}", p.display()),
        usage: false,
    };
    let episodes = dir.join("episodes");
    std::fs::create_dir_all(&episodes).map_err(|e| fail(e, &episodes))?;
    // create_new: never clobber a config that appeared since the check above.
    let mut f = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&config)
        .map_err(|e| fail(e, &config))?;
    std::io::Write::write_all(&mut f, STARTER_YAML.as_bytes()).map_err(|e| fail(e, &config))?;
    // The starter names cover.png; an existing cover is the podcaster's and stays.
    let cover = dir.join("cover.png");
    let wrote_cover = !cover.exists();
    if wrote_cover {
        std::fs::write(&cover, PLACEHOLDER_COVER).map_err(|e| fail(e, &cover))?;
    }
    println!(
        "wrote {}, {}/{}",
        config.display(),
        episodes.display(),
        if wrote_cover {
            format!(" and a placeholder {}", cover.display())
        } else {
            String::new()
        }
    );
    println!("next: edit the config, replace cover.png with your artwork (square JPEG or PNG, 1400 to 3000 px), put MP3s in episodes/, run `podseed check`, then `podseed publish`");
    println!("torrents name a tracker only once serve.public_url (or torrent.trackers) is set: see the serve: section of the config");
    Ok(())
}

/// The config, with `-o DIR` applied (and checked) when given.
fn load_config(path: &Path, output: Option<&Path>) -> Result<Config, CliError> {
    let config = Config::load(path)?;
    Ok(match output {
        Some(dir) => config.with_output_dir(dir)?,
        None => config,
    })
}

fn run_publish(args: &PublishArgs) -> Result<(), CliError> {
    let config = load_config(&args.config, args.output.as_deref())?;
    let opts = publish::Options {
        output_dir: args.output.clone(),
        force: args.force,
        progress: !args.out.quiet && !args.out.json && std::io::stderr().is_terminal(),
        threads: 0,
    };
    let summary = publish::publish(&config, &opts)?;
    for w in &summary.warnings {
        tracing::warn!("{w}");
    }
    if args.out.json {
        let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
        println!("{json}");
    } else if !args.out.quiet {
        print_summary(&summary, &config);
    }
    if args.serve {
        let opts = crate::serve::Options {
            output_dir: args.output.clone(),
            ready_file: args.ready_file.clone(),
        };
        crate::serve::run(&config, &opts)?;
    }
    Ok(())
}

fn run_check(args: &CheckArgs) -> Result<(), CliError> {
    use crate::check::{self, Report, Severity};
    let report = match load_config(&args.config, args.output.as_deref()) {
        Ok(config) => check::check(
            &config,
            &check::Options {
                output_dir: args.output.clone(),
                online: args.online,
            },
        ),
        Err(e) => Report {
            findings: vec![check::config_finding(&args.config, &e.to_string())],
        },
    };
    if args.out.json {
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        println!("{json}");
    } else {
        for f in &report.findings {
            if args.out.quiet && f.severity == Severity::Warning {
                continue;
            }
            println!("{f}");
        }
        if report.findings.is_empty() && !args.out.quiet {
            println!(
                "clean: no findings{}",
                if args.online {
                    " (online checks included)"
                } else {
                    ""
                }
            );
        }
    }
    match report.exit_code() {
        0 => Ok(()),
        _ => Err(CliError::Check {
            errors: report.count(Severity::Error),
            warnings: report.count(Severity::Warning),
        }),
    }
}

fn print_summary(s: &Summary, config: &Config) {
    println!(
        "published {} episode{} to {} ({} new, {} changed, {} unchanged); {} files written, {} removed",
        s.episodes.len(),
        if s.episodes.len() == 1 { "" } else { "s" },
        s.output_dir.display(),
        s.new,
        s.changed,
        s.unchanged,
        s.written_files,
        s.removed_files,
    );
    if s.up_to_date {
        println!(
            "nothing changed since the last build: compared in {:.3} s, nothing read or written",
            s.elapsed.as_secs_f64()
        );
    } else {
        println!(
            "hashed {:.1} MB in {:.2} s",
            s.bytes_hashed as f64 / 1e6,
            s.elapsed.as_secs_f64()
        );
    }
    for e in &s.episodes {
        println!(
            "  {}  {}  {}",
            e.info_hash,
            e.pub_date.get(..10).unwrap_or(""),
            e.title
        );
    }
    println!("feed: {}", s.feed_url);
    if !config.show.guid_pinned {
        println!(
            "podcast:guid {} is derived from base_url; pin it with `guid: {}` in {} before you ever move hosts",
            s.podcast_guid,
            s.podcast_guid,
            config.path.display()
        );
    }
}

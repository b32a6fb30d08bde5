//! `podseed check`: is the show right, and (with `--online`) is its host serving it right?
//!
//! Offline, it runs every stage of publish but the write ([`crate::publish::build`]), so
//! whatever makes publish fail is reported here as a finding, and then the rules of
//! [`crate::publish::lint`] (Apple's, the podcast namespace's, init's placeholders,
//! trackers). Online, [`online`] fetches the public URLs the build names and announces
//! its info hashes to its trackers. It writes nothing and prints nothing: the CLI prints
//! the [`Report`] and takes its exit code. It sits above the seeder because it announces
//! with the seeder's tracker client.

pub mod online;

use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::publish::{self, PublishError};

pub use crate::publish::lint::{Finding, Severity};

/// How to run a check.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the config's output_dir (its manifest spares hashing unchanged files).
    pub output_dir: Option<PathBuf>,
    /// Also probe the public URLs and the trackers.
    pub online: bool,
}

/// Every finding, in the order found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// 0 when clean, 1 when only warnings remain, 2 when any error does.
    pub fn exit_code(&self) -> i32 {
        match self.findings.iter().map(|f| f.severity).max() {
            None => 0,
            Some(Severity::Warning) => 1,
            Some(Severity::Error) => 2,
        }
    }

    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Checks the show of `config`: the build in memory, its rules, and with `online` the host.
pub fn check(config: &Config, opts: &Options) -> Report {
    let build_opts = publish::Options {
        output_dir: opts.output_dir.clone(),
        ..Default::default()
    };
    let build = match publish::build(config, &build_opts) {
        Ok(b) => b,
        Err(e) => {
            return Report {
                findings: build_failure(config, e),
            }
        }
    };
    let mut findings = build.findings.clone();
    if opts.online {
        findings.extend(online::probe(&build));
    }
    dedup(&mut findings);
    Report { findings }
}

/// What stopped the build, as error findings (each media problem on its own).
fn build_failure(config: &Config, e: PublishError) -> Vec<Finding> {
    match e {
        PublishError::Media(problems) => problems
            .into_iter()
            .map(|p| {
                Finding::new(
                    "media",
                    Severity::Error,
                    p.path.display().to_string(),
                    p.message,
                    "publish cannot build the show until this is fixed",
                )
            })
            .collect(),
        PublishError::Config(c) => vec![config_finding(&config.path, &c.to_string())],
        other => vec![Finding::new(
            "build",
            Severity::Error,
            config.path.display().to_string(),
            other.to_string(),
            "publish cannot build the show until this is fixed",
        )],
    }
}

/// A config that does not load, as one error finding.
pub fn config_finding(path: &std::path::Path, message: &str) -> Finding {
    Finding::new(
        "config",
        Severity::Error,
        path.display().to_string(),
        message,
        "fix the config where the message points",
    )
}

/// Keeps the first of equal findings.
fn dedup(findings: &mut Vec<Finding>) {
    let mut seen = Vec::with_capacity(findings.len());
    findings.retain(|f| {
        if seen.contains(f) {
            false
        } else {
            seen.push(f.clone());
            true
        }
    });
}

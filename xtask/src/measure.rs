//! Measuring one command: wall time, CPU time (user + system) and peak resident set size.
//!
//! `getrusage(RUSAGE_CHILDREN)` sums CPU time over every child a process has waited for, but
//! reports the peak RSS of the largest of them, so a delta taken around one child works for
//! CPU and not for RSS. To get one command's own figures, the harness runs it under a copy
//! of itself (`xtask rusage-of -- COMMAND...`) whose only child is that command: the copy's
//! `RUSAGE_CHILDREN` is then exactly the command plus the descendants it waited for (`git`,
//! `dpkg-source`...). Peak RSS is therefore that of the largest single process of the tree,
//! not their sum. No unsafe code and no external `time` tool.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::TimeVal;

/// What one command (or a sequence of them, see [`Usage::then`]) cost.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    /// Seconds from spawn to exit.
    pub(crate) wall: f64,
    /// Seconds of user CPU.
    pub(crate) user: f64,
    /// Seconds of system CPU.
    pub(crate) sys: f64,
    /// Peak resident set size of the largest process, KiB.
    pub(crate) max_rss_kib: u64,
}

impl Usage {
    /// User plus system CPU seconds.
    pub(crate) fn cpu(&self) -> f64 {
        self.user + self.sys
    }

    pub(crate) fn rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }

    /// The cost of running `self` and then `next`: times add up, the peak is the larger one.
    pub(crate) fn then(self, next: Usage) -> Usage {
        Usage {
            wall: self.wall + next.wall,
            user: self.user + next.user,
            sys: self.sys + next.sys,
            max_rss_kib: self.max_rss_kib.max(next.max_rss_kib),
        }
    }
}

/// A command that exited 0, with its cost and its standard error.
pub(crate) struct Measured {
    pub(crate) usage: Usage,
    pub(crate) stderr: String,
}

/// Runs `cmd` (program, arguments, environment and working directory are honoured; stdin
/// and stdout go to /dev/null, stderr is captured) and measures it. Fails unless it exits 0.
pub(crate) fn run(cmd: &Command) -> anyhow::Result<Measured> {
    let mut helper = Command::new(std::env::current_exe()?);
    helper
        .arg("rusage-of")
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        helper.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => helper.env(key, v),
            None => helper.env_remove(key),
        };
    }
    let what = || format!("{:?}", cmd.get_program());
    let out = helper
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(what)?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = report.split_whitespace().collect();
    let [wall, user, sys, rss, status] = fields[..] else {
        bail!(
            "measuring {}: no report ({report:?}); stderr:\n{stderr}",
            what()
        );
    };
    if status != "0" {
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{} {:?} ended with {status}; stderr ends:\n{}",
            what(),
            cmd.get_args().collect::<Vec<_>>(),
            tail.join("\n")
        );
    }
    Ok(Measured {
        usage: Usage {
            wall: wall.parse()?,
            user: user.parse()?,
            sys: sys.parse()?,
            max_rss_kib: rss.parse()?,
        },
        stderr,
    })
}

/// The `rusage-of` subcommand: runs `command` as this process's only child and prints
/// `WALL USER SYS MAX_RSS_KIB STATUS` on stdout (STATUS is the exit code or `signal-N`).
pub(crate) fn rusage_of(command: &[String]) -> anyhow::Result<()> {
    let (program, args) = command.split_first().context("rusage-of needs a command")?;
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {program}"))?;
    let wall = start.elapsed().as_secs_f64();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let status = match (status.code(), status.signal()) {
        (Some(code), _) => code.to_string(),
        (None, Some(signal)) => format!("signal-{signal}"),
        (None, None) => "unknown".into(),
    };
    println!(
        "{wall} {} {} {} {status}",
        seconds(usage.user_time()),
        seconds(usage.system_time()),
        usage.max_rss()
    );
    Ok(())
}

fn seconds(t: TimeVal) -> f64 {
    t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6
}

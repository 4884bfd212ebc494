//! The one place that spawns `git`, with a pinned environment and an optional timeout.
//!
//! Why pin the environment: an import must give the same result on every machine, and a
//! daemon must never hang on a question. So every git process gets
//! - `GIT_CONFIG_NOSYSTEM=1` and `GIT_CONFIG_GLOBAL=/dev/null`: no `/etc/gitconfig` or
//!   `~/.gitconfig` (a `url.insteadOf`, a hook path, `init.defaultObjectFormat`) changes
//!   what we do; each repository's own config is written by this crate;
//! - `LC_ALL=C`: messages we classify are in English;
//! - `GIT_TERMINAL_PROMPT=0` and, for network commands, `core.sshCommand=ssh -o
//!   BatchMode=yes -o ConnectTimeout=…`: a missing credential fails instead of prompting.
//!   `GIT_SSH_COMMAND` from the caller's environment still wins over `core.sshCommand`, so a
//!   deployment can choose its own ssh;
//! - the variables that would point git at another repository (`GIT_DIR`,
//!   `GIT_OBJECT_DIRECTORY`, …, as set inside a git hook) removed;
//! - the caller's [`GitOptions::extra_env`] last, so a deployment can re-enable a config
//!   file (`GIT_CONFIG_GLOBAL=/etc/package-importer/gitconfig`) for https credentials.
//!
//! Network commands get a deadline. On expiry git is killed and the caller sees
//! `Unreachable`. git is not put in a process group of its own, because the driver kills
//! `import-one`'s whole group on its own timeout and git must die with it; the price is that
//! an ssh started by a killed git lingers until its own `ConnectTimeout`, so we stop
//! waiting for its pipes after a short grace period.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;

/// How git is run; shared by every command of a [`crate::GitDir`] and by the remote
/// functions.
#[derive(Debug, Clone)]
pub struct GitOptions {
    /// Deadline for one network operation (`ls-remote`, `push`). Default 300 s.
    pub network_timeout: Duration,
    /// Extra environment for every git process, applied after the pinned variables, so it
    /// may override them (e.g. `GIT_SSH_COMMAND`, `GIT_CONFIG_GLOBAL`).
    pub extra_env: Vec<(OsString, OsString)>,
    /// The git binary. Default `git`, found on `PATH`.
    pub git_binary: OsString,
}

impl Default for GitOptions {
    fn default() -> GitOptions {
        GitOptions {
            network_timeout: Duration::from_secs(300),
            extra_env: Vec::new(),
            git_binary: OsString::from("git"),
        }
    }
}

/// Variables that point git somewhere else than where we say, or change object ids.
const SCRUBBED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_DEFAULT_HASH",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_REPLACE_REF_BASE",
    "GIT_GRAFT_FILE",
    "GIT_SHALLOW_FILE",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
];

/// How long to keep reading a killed git's pipes, which a lingering ssh may hold open.
const PIPE_GRACE: Duration = Duration::from_millis(300);

/// The `git` command with the pinned environment: the only `Command::new` of the crate.
///
/// `git_dir` sets `GIT_DIR` (all our repositories are bare); without it the working
/// directory is `/` so that git never discovers a repository around the caller's cwd.
pub(crate) fn git_command(options: &GitOptions, git_dir: Option<&Path>, network: bool) -> Command {
    let mut cmd = Command::new(&options.git_binary);
    for name in SCRUBBED_ENV {
        cmd.env_remove(name);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("GIT_OPTIONAL_LOCKS", "0");
    match git_dir {
        Some(dir) => {
            cmd.env("GIT_DIR", dir).current_dir(dir);
        }
        None => {
            cmd.current_dir("/");
        }
    }
    if network {
        let connect = options.network_timeout.as_secs().max(1);
        cmd.arg("-c").arg(format!(
            "core.sshCommand=ssh -o BatchMode=yes -o ConnectTimeout={connect}"
        ));
    }
    cmd.envs(options.extra_env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// What a finished git process left behind.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// How a run ended when it did not produce an [`Output`].
#[derive(Debug)]
pub(crate) enum RunError {
    /// Spawning or talking to the process failed.
    Io(Error),
    /// The deadline passed and the process was killed; whatever stderr said so far.
    TimedOut { after: Duration, stderr: Vec<u8> },
}

/// One git invocation: its arguments and how to run it.
pub(crate) struct Invocation<'a> {
    pub(crate) git_dir: Option<&'a Path>,
    pub(crate) args: Vec<OsString>,
    pub(crate) stdin: Option<Vec<u8>>,
    /// Network commands get the ssh batch options and the deadline.
    pub(crate) network: bool,
}

impl<'a> Invocation<'a> {
    pub(crate) fn new(git_dir: Option<&'a Path>, args: &[&str]) -> Invocation<'a> {
        Invocation {
            git_dir,
            args: args.iter().map(OsString::from).collect(),
            stdin: None,
            network: false,
        }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Invocation<'a> {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn stdin(mut self, input: Vec<u8>) -> Invocation<'a> {
        self.stdin = Some(input);
        self
    }

    pub(crate) fn network(mut self) -> Invocation<'a> {
        self.network = true;
        self
    }

    fn subcommand(&self) -> String {
        self.args
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Run git to completion, capturing stdout and stderr. A non-zero exit is *not* an error
/// here: callers interpret exit codes (`rev-parse --verify` answers 1 for "no such ref").
pub(crate) fn run(options: &GitOptions, inv: Invocation<'_>) -> Result<Output, RunError> {
    let started = Instant::now();
    let subcommand = inv.subcommand();
    let mut cmd = git_command(options, inv.git_dir, inv.network);
    cmd.args(&inv.args)
        .stdin(if inv.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| RunError::Io(Error::io(format!("spawning git {subcommand}"), e)))?;

    // Feed stdin and drain both pipes on threads, so that no pipe buffer can fill up and
    // stall git while we wait for it.
    if let Some(input) = inv.stdin {
        let mut pipe = child.stdin.take().expect("stdin was piped");
        thread::spawn(move || {
            // A git that exits early closes the pipe; its exit status tells the story.
            let _ = pipe.write_all(&input);
        });
    }
    let stdout = drain(child.stdout.take().expect("stdout was piped"));
    let stderr = drain(child.stderr.take().expect("stderr was piped"));

    let deadline = inv.network.then(|| started + options.network_timeout);
    // With a deadline, wait for git to close stdout first (it does so by exiting): that
    // wakes us the moment it ends, where polling alone overslept a 40 ms push by up to
    // 25 ms. A git that keeps stdout open past the deadline is killed by `wait`.
    let early_stdout = deadline.and_then(|deadline| {
        stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()
    });
    let status = match wait(&mut child, deadline) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let stderr = stderr.recv_timeout(PIPE_GRACE).unwrap_or_default();
            log::warn!(
                "git {subcommand} killed after {:?}",
                options.network_timeout
            );
            return Err(RunError::TimedOut {
                after: options.network_timeout,
                stderr,
            });
        }
        Err(e) => {
            return Err(RunError::Io(Error::io(
                format!("waiting for git {subcommand}"),
                e,
            )));
        }
    };
    let grace = if inv.network {
        PIPE_GRACE
    } else {
        Duration::from_secs(60)
    };
    let output = Output {
        status,
        stdout: match early_stdout {
            Some(buf) => buf,
            None => stdout.recv_timeout(grace).unwrap_or_default(),
        },
        stderr: stderr.recv_timeout(grace).unwrap_or_default(),
    };
    log::debug!(
        "git {} -> {} in {:.1?}",
        inv.args
            .iter()
            .map(|a| pkgimport_core::redact::redact_userinfo(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" "),
        output.status,
        started.elapsed()
    );
    Ok(output)
}

/// Run git and insist on exit status 0; returns stdout.
pub(crate) fn run_ok(options: &GitOptions, inv: Invocation<'_>) -> Result<Vec<u8>, Error> {
    let subcommand = inv.subcommand();
    match run(options, inv) {
        Ok(out) if out.status.success() => Ok(out.stdout),
        Ok(out) => Err(Error::failed(&subcommand, out.status, &out.stderr)),
        Err(RunError::Io(e)) => Err(e),
        Err(RunError::TimedOut { after, stderr }) => Err(Error::Failed {
            command: subcommand,
            status: format!("killed after {after:?}"),
            stderr_tail: crate::error::stderr_tail(&stderr),
        }),
    }
}

/// Read a pipe to the end on a thread; the result arrives on the channel.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Wait for the child; with a deadline, poll (backing off from 0.2 ms to 25 ms) and kill it
/// when the deadline passes, returning `None`.
fn wait(child: &mut Child, deadline: Option<Instant>) -> std::io::Result<Option<ExitStatus>> {
    let Some(deadline) = deadline else {
        return child.wait().map(Some);
    };
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            // The process may have exited in between; either way it is gone after this.
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}

//! Running one import as a child process: its own process group, its output in its log file,
//! a timeout, and a kill switch for shutdown.
//!
//! The child gets its own process group so that a timeout or a shutdown kills everything it
//! started (git, decompressors) and so that a Ctrl-C on the driver's terminal does not reach
//! it: the driver decides when children die.

use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::watch;

use crate::judge::ChildEnd;
use crate::process;

/// What one child needs.
pub(crate) struct ChildSpec {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) log_path: PathBuf,
    pub(crate) timeout: Duration,
}

/// Starts the child. Returns its pid and start time once it runs, through `started`, so the
/// caller can record them before the child ends.
pub(crate) async fn run_child(
    spec: ChildSpec,
    started: impl FnOnce(u32, Option<u64>),
    mut kill: watch::Receiver<bool>,
) -> ChildEnd {
    let log = match open_log(&spec.log_path) {
        Ok(f) => f,
        Err(e) => {
            return ChildEnd::SpawnFailed(format!("log file {}: {e}", spec.log_path.display()));
        }
    };
    let stderr = match log.try_clone() {
        Ok(f) => f,
        Err(e) => {
            return ChildEnd::SpawnFailed(format!("log file {}: {e}", spec.log_path.display()));
        }
    };
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(false);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return ChildEnd::SpawnFailed(format!("{}: {e}", spec.program.display())),
    };
    let Some(pid) = child.id() else {
        return ChildEnd::SpawnFailed("child exited before it could be watched".into());
    };
    started(pid, process::start_time(pid));

    let timeout = tokio::time::sleep(spec.timeout);
    tokio::pin!(timeout);
    let killed_by = tokio::select! {
        status = child.wait() => {
            // The import is gone, but what it started in its group (git, a decompressor)
            // may not be: after a SIGKILL of the import alone it would run on unsupervised,
            // and the next run of the package would take its git lock files for stale
            // ones. Nothing of a run outlives it.
            process::kill_group(pid);
            return match status {
                Ok(status) => end_of(status),
                Err(e) => ChildEnd::SpawnFailed(format!("waiting for pid {pid}: {e}")),
            };
        }
        () = &mut timeout => ChildEnd::TimedOut,
        _ = wait_for_kill(&mut kill) => ChildEnd::Interrupted,
    };
    // The whole group: the import and anything it started.
    process::kill_group(pid);
    let _ = child.wait().await;
    killed_by
}

async fn wait_for_kill(kill: &mut watch::Receiver<bool>) {
    // A closed channel means the driver is gone; then nobody will ask, so wait for ever.
    while !*kill.borrow_and_update() {
        if kill.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn end_of(status: std::process::ExitStatus) -> ChildEnd {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ChildEnd::Exited(code),
        (None, Some(sig)) => ChildEnd::Signaled(sig),
        (None, None) => ChildEnd::Exited(-1),
    }
}

fn open_log(path: &std::path::Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// The last lines of a log, for the failure record and its signature. Reads at most the last
/// 8 KiB: the end of the log is where the error is.
pub(crate) fn log_tail(path: &std::path::Path, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const MAX: u64 = 8 * 1024;
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(MAX)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A git that an import started must not run on after the import died and race the
    /// next run of the package. Nothing started in
    /// an import's process group may outlive the import.
    #[test]
    fn nothing_an_import_started_outlives_it() {
        let dir = std::env::temp_dir().join(format!("pkgimport-supervise-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("sleeper.pid");
        let spec = ChildSpec {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                format!("sleep 30 & echo $! > '{}'; exit 0", pid_file.display()),
            ],
            env: Vec::new(),
            log_path: dir.join("run.log"),
            timeout: Duration::from_secs(20),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (_kill_tx, kill_rx) = watch::channel(false);
        let end = runtime.block_on(run_child(spec, |_, _| {}, kill_rx));
        assert!(matches!(end, ChildEnd::Exited(0)), "{end:?}");
        let sleeper: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone =
            || process::start_time(sleeper).is_none_or(|t| !process::is_same_process(sleeper, t));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !gone() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(gone(), "pid {sleeper}, started by the import, outlived it");
    }
}

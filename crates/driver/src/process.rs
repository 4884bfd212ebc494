//! Facts about processes that the driver needs and tokio does not offer: the start time that
//! tells a reused pid apart, and killing a whole process group.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The start time of a process, in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
/// Together with the pid it names one process for good: a pid can be reused, but not with the
/// same start time. `None` if the process is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid).map(|(_, start)| start)
}

/// Whether `pid` is still the process that started at `started`, and still running: a zombie
/// has finished, it only waits for its parent to reap it.
pub fn is_same_process(pid: u32, started: u64) -> bool {
    match stat_fields(pid) {
        Some((state, start)) => start == started && state != 'Z' && state != 'X',
        None => false,
    }
}

/// The state letter and start time of a process.
fn stat_fields(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    // `rest` starts at field 3 (the state); field 22 is 19 further on.
    let state = rest.next()?.chars().next()?;
    let start = rest.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Sends SIGKILL to every process in the group led by `pgid`. A group that is already gone is
/// not an error.
pub fn kill_group(pgid: u32) {
    let Ok(raw) = i32::try_from(pgid) else { return };
    match killpg(Pid::from_raw(raw), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => log::warn!("could not kill process group {pgid}: {e}"),
    }
}

/// This machine's name, for heartbeats.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_stable() {
        let me = std::process::id();
        let t = start_time(me).expect("own /proc entry");
        assert!(is_same_process(me, t));
        assert!(!is_same_process(me, t + 1));
        assert_eq!(start_time(u32::MAX), None);
    }
}

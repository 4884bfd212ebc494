//! Turning how a child ended into a run outcome: the exit-code contract of ARCHITECTURE.md, in one
//! pure function.

use std::time::Duration;

use pkgimport_core::{Exit, signature};
use pkgimport_queue::{Disposition, NewFailure, Outcome, RunEnd};

/// How a child process ended, as the supervisor saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildEnd {
    Exited(i32),
    Signaled(i32),
    /// Killed by the supervisor after the run timeout.
    TimedOut,
    /// Killed by the supervisor because the driver was shutting down.
    Interrupted,
    /// The command could not be started at all.
    SpawnFailed(String),
}

/// The delays before a re-queued job may be claimed again.
#[derive(Clone, Copy, Debug)]
pub struct RequeueDelays {
    /// After exit 73: the package lock was held by another import.
    pub locked: Duration,
    /// After exit 69: upstream unavailable.
    pub unavailable: Duration,
}

/// Decides the outcome of a run from how the child ended and the tail of its log.
pub fn judge(end: &ChildEnd, log_tail: &str, delays: RequeueDelays) -> RunEnd {
    let fail = |outcome, signature: String, transient| RunEnd {
        outcome,
        exit_code: None,
        signal: None,
        disposition: Disposition::Fail(NewFailure {
            signature,
            tail: log_tail.to_owned(),
            transient,
        }),
    };
    let requeue = |outcome, delay| RunEnd {
        outcome,
        exit_code: None,
        signal: None,
        disposition: Disposition::Requeue { delay },
    };
    let from_log = |fallback: String| signature::from_text(log_tail).unwrap_or(fallback);
    match *end {
        ChildEnd::Exited(code) => {
            let mut run = match Exit::from_code(code) {
                Some(Exit::Ok) => RunEnd {
                    outcome: Outcome::Success,
                    exit_code: None,
                    signal: None,
                    disposition: Disposition::Done,
                },
                Some(Exit::Unavailable) => requeue(Outcome::Unavailable, delays.unavailable),
                Some(Exit::Locked) => requeue(Outcome::Locked, delays.locked),
                Some(Exit::DataErr) => fail(Outcome::Failed, from_log("bad input".into()), false),
                Some(Exit::TempFail) => {
                    fail(Outcome::Failed, from_log("transient failure".into()), true)
                }
                Some(Exit::Config) => fail(
                    Outcome::Failed,
                    from_log("configuration error".into()),
                    false,
                ),
                _ => {
                    let sig = from_log(format!("exit status {code}"));
                    let transient = signature::looks_transient(&sig);
                    fail(Outcome::Failed, sig, transient)
                }
            };
            run.exit_code = Some(code);
            run
        }
        ChildEnd::Signaled(sig) => {
            let mut run = fail(Outcome::Died, "died".into(), true);
            run.signal = Some(sig);
            run
        }
        ChildEnd::TimedOut => fail(Outcome::Timeout, "timeout".into(), true),
        ChildEnd::Interrupted => requeue(Outcome::Interrupted, Duration::ZERO),
        // Not the package's fault: the driver's own command is broken. Re-queue and let the
        // operator see the error in the driver's log, rather than fail every package.
        ChildEnd::SpawnFailed(_) => requeue(Outcome::Abandoned, delays.locked),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays() -> RequeueDelays {
        RequeueDelays {
            locked: Duration::from_secs(7),
            unavailable: Duration::from_secs(9),
        }
    }

    #[track_caller]
    fn check(end: ChildEnd, tail: &str, outcome: Outcome, expect: &str) {
        let run = judge(&end, tail, delays());
        assert_eq!(run.outcome, outcome);
        let got = match run.disposition {
            Disposition::Done => "done".to_owned(),
            Disposition::Requeue { delay } => format!("requeue {}s", delay.as_secs()),
            Disposition::Fail(f) => {
                format!(
                    "fail {} {}",
                    if f.transient {
                        "transient"
                    } else {
                        "permanent"
                    },
                    f.signature
                )
            }
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn exit_code_contract() {
        use ChildEnd::*;
        check(Exited(0), "", Outcome::Success, "done");
        check(
            Exited(69),
            "error: launchpad down",
            Outcome::Unavailable,
            "requeue 9s",
        );
        check(Exited(73), "", Outcome::Locked, "requeue 7s");
        check(
            Exited(65),
            "importing\nerror: checksum mismatch for /x/y",
            Outcome::Failed,
            "fail permanent error: checksum mismatch for <path>",
        );
        check(Exited(65), "", Outcome::Failed, "fail permanent bad input");
        check(
            Exited(75),
            "error: timed out after 30s",
            Outcome::Failed,
            "fail transient error: timed out after N",
        );
        check(
            Exited(78),
            "",
            Outcome::Failed,
            "fail permanent configuration error",
        );
        check(
            Exited(3),
            "",
            Outcome::Failed,
            "fail permanent exit status 3",
        );
        check(
            Signaled(11),
            "error: whatever",
            Outcome::Died,
            "fail transient died",
        );
        check(TimedOut, "", Outcome::Timeout, "fail transient timeout");
        check(Interrupted, "", Outcome::Interrupted, "requeue 0s");
        let run = judge(&Exited(65), "", delays());
        assert_eq!(run.exit_code, Some(65));
        let run = judge(&Signaled(9), "", delays());
        assert_eq!(run.signal, Some(9));
    }
}

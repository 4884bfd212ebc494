//! The exit-code contract between `import-one` and the driver, shared by every binary.
//!
//! The numbers follow sysexits(3) so that they mean something to operators and to systemd
//! (`RestartPreventExitStatus=78`). ARCHITECTURE.md mirrors this table; a tidy test keeps
//! the two in step.

/// How a process of package-importer ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// Done, or nothing to do.
    Ok,
    /// An error that no more specific code covers.
    Failure,
    /// A usage error on the command line.
    Usage,
    /// A check found a mismatch (`importctl verify`) or a bad state.
    Mismatch,
    /// Permanent bad input: a failure is recorded and not retried automatically.
    DataErr,
    /// Launchpad, the archive or the git remote stayed unreachable after retries. No failure
    /// is recorded; the job goes back to the queue and the circuit breaker is told.
    Unavailable,
    /// An internal error: a bug.
    Software,
    /// Another process holds the lock (the package's, the driver's or the poller's).
    Locked,
    /// A transient failure of this package; recorded as transient.
    TempFail,
    /// The configuration is invalid; retrying will not help.
    Config,
    /// `importctl check` could not check (the plugin's UNKNOWN).
    CheckUnknown,
}

impl Exit {
    /// Every variant, for tables and tests.
    pub const ALL: [Exit; 11] = [
        Exit::Ok,
        Exit::Failure,
        Exit::Mismatch,
        Exit::CheckUnknown,
        Exit::Usage,
        Exit::DataErr,
        Exit::Unavailable,
        Exit::Software,
        Exit::Locked,
        Exit::TempFail,
        Exit::Config,
    ];

    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Mismatch => 2,
            Exit::CheckUnknown => 3,
            Exit::Usage => 64,
            Exit::DataErr => 65,
            Exit::Unavailable => 69,
            Exit::Software => 70,
            Exit::Locked => 73,
            Exit::TempFail => 75,
            Exit::Config => 78,
        }
    }

    pub fn from_code(code: i32) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| i32::from(e.code()) == code)
    }

    /// The short name used in ARCHITECTURE.md and `--help`.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Failure => "failure",
            Exit::Usage => "usage",
            Exit::Mismatch => "mismatch",
            Exit::CheckUnknown => "check-unknown",
            Exit::DataErr => "data-error",
            Exit::Unavailable => "unavailable",
            Exit::Software => "internal-error",
            Exit::Locked => "locked",
            Exit::TempFail => "transient",
            Exit::Config => "config-error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        for e in Exit::ALL {
            assert_eq!(Exit::from_code(i32::from(e.code())), Some(e));
        }
        assert_eq!(Exit::Unavailable.code(), 69);
        assert_eq!(Exit::Locked.code(), 73);
        assert_eq!(Exit::from_code(4), None);
    }
}

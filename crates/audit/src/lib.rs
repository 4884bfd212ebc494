//! The three-phase commit around the push, as a pure state machine.
//!
//! The audit trail records what the importer believes is on the remote. A push changes the
//! remote and the audit must follow, but the two cannot change in one atomic step; so the
//! change goes through phases, recorded in the database, such that a crash at any moment
//! leaves a state from which the next run knows exactly what to do:
//!
//! 1. **Staged**: the new commits exist only in the private repository, and the audit rows
//!    about to be published are stored apart from the committed audit. A crash here loses
//!    nothing that was published: drop the staged rows and start again.
//! 2. **Critical**: the mark is set, then the push runs. A crash here may leave the push done,
//!    half-done (not with `--atomic`) or not done: push again, with the same expected old
//!    values; a push that already happened is a no-op.
//! 3. **Cleanup**: the push succeeded and the staged rows became the committed audit, in the
//!    same transaction that moved the mark to cleanup. A crash here: finish the cleanup.
//!
//! Then the mark is removed and the package is **idle** again.
//!
//! The phase is derived from two facts the database holds: whether staged rows exist, and
//! the mark (none, pushing, cleanup). [`Phase::from_facts`] makes that derivation, and
//! [`Phase::on`] is the transition table; [`Phase::recovery`] says what a new run does first.

use std::fmt;

/// Where a package is in the three-phase commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Nothing in flight: the committed audit describes the remote.
    Idle,
    /// Staged rows exist, no mark: nothing has been published.
    Staged,
    /// The mark is set: the push may have happened, wholly or not at all.
    Critical,
    /// The audit is committed; the working state still needs cleaning up.
    Cleanup,
}

/// What the critical mark in the database says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mark {
    None,
    Pushing,
    Cleanup,
}

/// Steps of an import run that change the phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Store the audit rows about to be published.
    Stage,
    /// Drop the staged rows (nothing was published).
    DropStaged,
    /// Set the critical mark, before pushing.
    Mark,
    /// The remote refused the push (someone else changed it): nothing was published, so
    /// remove the mark and keep the staged rows, to be dropped.
    AbortPush,
    /// The push succeeded: commit the staged audit and move the mark to cleanup.
    CommitAudit,
    /// Cleanup is done: remove the mark.
    Unmark,
}

/// What a run must do first when it finds a package in a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// Nothing: start the import.
    None,
    /// Drop the staged rows, then start the import.
    DropStaged,
    /// Push the staged refs again, then commit the audit and clean up.
    FinishPush,
    /// Finish the cleanup and remove the mark.
    FinishCleanup,
}

/// A step that is not allowed in the current phase: a bug, or a database edited by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit: {event:?} is not allowed in phase {from}")]
pub struct InvalidTransition {
    pub from: Phase,
    pub event: Event,
}

/// The facts in the database do not describe any phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit: inconsistent state: staged rows {has_staged}, mark {mark:?}")]
pub struct Inconsistent {
    pub has_staged: bool,
    pub mark: Mark,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Idle, Phase::Staged, Phase::Critical, Phase::Cleanup];

    /// The phase described by the stored facts.
    pub fn from_facts(has_staged: bool, mark: Mark) -> Result<Phase, Inconsistent> {
        match (has_staged, mark) {
            (false, Mark::None) => Ok(Phase::Idle),
            (true, Mark::None) => Ok(Phase::Staged),
            (true, Mark::Pushing) => Ok(Phase::Critical),
            // Committing the audit consumes the staged rows in the same transaction.
            (false, Mark::Cleanup) => Ok(Phase::Cleanup),
            // A mark without rows to push, or rows left beside a committed audit.
            (false, Mark::Pushing) | (true, Mark::Cleanup) => {
                Err(Inconsistent { has_staged, mark })
            }
        }
    }

    /// The facts that describe this phase (the inverse of [`Phase::from_facts`]).
    pub fn facts(self) -> (bool, Mark) {
        match self {
            Phase::Idle => (false, Mark::None),
            Phase::Staged => (true, Mark::None),
            Phase::Critical => (true, Mark::Pushing),
            Phase::Cleanup => (false, Mark::Cleanup),
        }
    }

    /// The transition table.
    pub fn on(self, event: Event) -> Result<Phase, InvalidTransition> {
        use {Event as E, Phase as P};
        match (self, event) {
            (P::Idle, E::Stage) => Ok(P::Staged),
            (P::Staged, E::DropStaged) => Ok(P::Idle),
            (P::Staged, E::Mark) => Ok(P::Critical),
            (P::Critical, E::CommitAudit) => Ok(P::Cleanup),
            (P::Critical, E::AbortPush) => Ok(P::Staged),
            (P::Cleanup, E::Unmark) => Ok(P::Idle),
            (from, event) => Err(InvalidTransition { from, event }),
        }
    }

    /// What a run that finds the package in this phase does before anything else.
    pub fn recovery(self) -> Recovery {
        match self {
            Phase::Idle => Recovery::None,
            Phase::Staged => Recovery::DropStaged,
            Phase::Critical => Recovery::FinishPush,
            Phase::Cleanup => Recovery::FinishCleanup,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Phase::Idle => "idle",
            Phase::Staged => "staged",
            Phase::Critical => "critical",
            Phase::Cleanup => "cleanup",
        })
    }
}

impl Mark {
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Mark::None => None,
            Mark::Pushing => Some("pushing"),
            Mark::Cleanup => Some("cleanup"),
        }
    }

    pub fn parse(s: Option<&str>) -> Option<Mark> {
        match s {
            None => Some(Mark::None),
            Some("pushing") => Some(Mark::Pushing),
            Some("cleanup") => Some(Mark::Cleanup),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: [Event; 6] = [
        Event::Stage,
        Event::DropStaged,
        Event::Mark,
        Event::AbortPush,
        Event::CommitAudit,
        Event::Unmark,
    ];

    /// One snapshot of every (phase, event) pair: the whole table, reviewed as text.
    #[test]
    fn transition_table() {
        let mut table = String::new();
        for p in Phase::ALL {
            for e in EVENTS {
                let to = match p.on(e) {
                    Ok(to) => to.to_string(),
                    Err(_) => "-".to_owned(),
                };
                table.push_str(&format!("{p:<8} {:<11} {to}\n", format!("{e:?}")));
            }
        }
        let expect = "\
idle     Stage       staged
idle     DropStaged  -
idle     Mark        -
idle     AbortPush   -
idle     CommitAudit -
idle     Unmark      -
staged   Stage       -
staged   DropStaged  idle
staged   Mark        critical
staged   AbortPush   -
staged   CommitAudit -
staged   Unmark      -
critical Stage       -
critical DropStaged  -
critical Mark        -
critical AbortPush   staged
critical CommitAudit cleanup
critical Unmark      -
cleanup  Stage       -
cleanup  DropStaged  -
cleanup  Mark        -
cleanup  AbortPush   -
cleanup  CommitAudit -
cleanup  Unmark      idle
";
        assert_eq!(table, expect);
    }

    #[test]
    fn facts_round_trip_and_inconsistent_facts_are_reported() {
        for p in Phase::ALL {
            let (staged, mark) = p.facts();
            assert_eq!(Phase::from_facts(staged, mark), Ok(p));
        }
        assert!(Phase::from_facts(false, Mark::Pushing).is_err());
        assert!(Phase::from_facts(true, Mark::Cleanup).is_err());
        for m in [Mark::None, Mark::Pushing, Mark::Cleanup] {
            assert_eq!(Mark::parse(m.as_str()), Some(m));
        }
        assert_eq!(Mark::parse(Some("bogus")), None);
    }

    /// From every phase, recovery followed by the rest of a run reaches idle, and a crash
    /// after any step leaves a phase whose recovery continues from there.
    #[test]
    fn every_crash_point_recovers_to_idle() {
        let happy = [Event::Stage, Event::Mark, Event::CommitAudit, Event::Unmark];
        for crash_after in 0..=happy.len() {
            let mut p = Phase::Idle;
            for e in &happy[..crash_after] {
                p = p.on(*e).unwrap();
            }
            // The next run: recover first.
            let resumed = match p.recovery() {
                Recovery::None => p,
                Recovery::DropStaged => p.on(Event::DropStaged).unwrap(),
                Recovery::FinishPush => {
                    p.on(Event::CommitAudit).unwrap().on(Event::Unmark).unwrap()
                }
                Recovery::FinishCleanup => p.on(Event::Unmark).unwrap(),
            };
            assert_eq!(resumed, Phase::Idle, "crash after {crash_after} steps");
        }
    }
}

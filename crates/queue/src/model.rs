//! The values that go in and out of the state database.
//!
//! These are the vocabulary of the [`Store`](crate::Store) API. They carry no SQL types, so a
//! second backend can produce the same values. The `Serialize` forms are the JSON that
//! `importctl --json` prints; docs/json.md documents their keys.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pkgimport_core::{PackageName, Priority};
use serde::{Serialize, Serializer};

/// A point in time, in milliseconds since the Unix epoch. JSON shows it as RFC 3339 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        Timestamp(ms as i64)
    }

    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_millis() as i64))
    }

    /// How long ago this was, as seen from `now`; zero if it lies in the future.
    pub fn age(self, now: Timestamp) -> Duration {
        Duration::from_millis(now.0.saturating_sub(self.0).max(0) as u64)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = UNIX_EPOCH + Duration::from_millis(self.0.max(0) as u64);
        write!(f, "{}", humantime::format_rfc3339_seconds(t))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = UNIX_EPOCH + Duration::from_millis(self.0.max(0) as u64);
        s.collect_str(&humantime::format_rfc3339_millis(t))
    }
}

fn priority_number<S: Serializer>(p: &Priority, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(p.0)
}

fn package_str<S: Serializer>(p: &PackageName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// What the driver got when it claimed a job: the job, and the run row opened for it.
#[derive(Clone, Debug)]
pub struct Claim {
    pub job_id: i64,
    pub run_id: i64,
    pub package: PackageName,
    pub priority: Priority,
    /// Attempts of this job so far, this one included.
    pub attempts: i64,
    /// Where the run's output goes, relative to the state directory.
    pub log_path: String,
}

/// How a run ended, as recorded in `runs.outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Exit 0: imported, or nothing to do.
    Success,
    /// A failure was recorded (exit 65, 75, 78 or any other code).
    Failed,
    /// Killed by the driver after the run timeout; recorded as a failure `timeout`.
    Timeout,
    /// Ended by a signal it did not ask for; recorded as a failure `died`.
    Died,
    /// Exit 69: upstream unavailable. Re-queued, no failure.
    Unavailable,
    /// Exit 73: the package lock was held. Re-queued, no failure.
    Locked,
    /// Killed by a driver that was shutting down. Re-queued, no failure.
    Interrupted,
    /// Left open by a driver that died; found and re-queued by the next driver.
    Abandoned,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Success,
        Outcome::Failed,
        Outcome::Timeout,
        Outcome::Died,
        Outcome::Unavailable,
        Outcome::Locked,
        Outcome::Interrupted,
        Outcome::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::Died => "died",
            Outcome::Unavailable => "unavailable",
            Outcome::Locked => "locked",
            Outcome::Interrupted => "interrupted",
            Outcome::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure to record against a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFailure {
    pub signature: String,
    /// The last lines of the run's output.
    pub tail: String,
    pub transient: bool,
}

/// What becomes of the job once its run has ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// The job is done: delete it, and clear any failure of the package.
    Done,
    /// Back to the queue at its own priority, claimable again after `delay`. No failure.
    Requeue { delay: Duration },
    /// Record the failure; the package is not claimed again until it is retried.
    Fail(NewFailure),
}

/// The end of a run, as the driver reports it.
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub disposition: Disposition,
}

/// A run that was never closed: its driver died.
#[derive(Clone, Debug)]
pub struct OpenRun {
    pub run_id: i64,
    pub job_id: i64,
    pub package: String,
    pub driver_pid: i64,
    pub pid: Option<i64>,
    pub pid_start: Option<u64>,
    /// The driver that opened it ([`Store::act_as_driver`](crate::Store::act_as_driver));
    /// empty for a driver that gave no name.
    pub driver: String,
    /// Until when that driver vouches for the run; `None` when it took no lease.
    pub lease_until: Option<Timestamp>,
}

/// What `enqueue` did with each name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnqueueSummary {
    /// New pending jobs.
    pub added: u64,
    /// Pending jobs whose priority went up.
    pub raised: u64,
    /// Pending jobs already at that priority or higher.
    pub unchanged: u64,
    /// Of all the names, those whose package has a recorded failure: they stay queued but
    /// are not claimed until retried.
    pub blocked: Vec<String>,
}

/// The last sign of life of a long-running process.
#[derive(Clone, Debug, Serialize)]
pub struct Heartbeat {
    pub kind: String,
    pub host: String,
    pub pid: i64,
    pub started_at: Timestamp,
    pub last_seen: Timestamp,
}

/// The one-screen summary that `importctl status` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// Jobs waiting to be claimed (delayed and blocked ones included).
    pub queued: u64,
    pub running: u64,
    /// Packages with a failure that has not been retried.
    pub failed: u64,
    pub paused: bool,
    /// Age of the oldest queued job, in seconds; null when the queue is empty.
    pub oldest_queued_age_s: Option<u64>,
    /// Queued jobs waiting out a re-queue delay.
    pub delayed: u64,
    /// Queued jobs whose package has a recorded failure.
    pub blocked: u64,
    /// Failed packages that retry-failures gave up on.
    pub needs_attention: u64,
    /// The circuit breaker: `closed`, `open` or `half-open`.
    pub breaker: String,
    /// When the breaker last opened, if it is not closed.
    pub breaker_opened_at: Option<Timestamp>,
    /// The newest driver heartbeat, if any driver ever ran.
    pub driver: Option<Heartbeat>,
}

/// One row of `importctl queue`.
#[derive(Clone, Debug, Serialize)]
pub struct QueuedJob {
    pub id: i64,
    #[serde(serialize_with = "package_str")]
    pub package: PackageName,
    #[serde(serialize_with = "priority_number")]
    pub priority: Priority,
    /// `queued` or `running`.
    pub state: String,
    pub enqueued_at: Timestamp,
    /// Set when a re-queued job waits before it may be claimed again.
    pub not_before: Option<Timestamp>,
    pub attempts: i64,
    /// The package has a recorded failure, so the job is not claimed.
    pub blocked: bool,
}

/// One row of `importctl runs`.
#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub job_id: i64,
    pub package: String,
    #[serde(serialize_with = "priority_number")]
    pub priority: Priority,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub duration_s: Option<f64>,
    pub pid: Option<i64>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Null while the run is still open.
    pub outcome: Option<Outcome>,
    pub signature: Option<String>,
    pub log_path: String,
}

/// One row of `importctl failures`.
#[derive(Clone, Debug, Serialize)]
pub struct FailureRecord {
    pub package: String,
    pub signature: String,
    pub transient: bool,
    pub attempts: i64,
    pub consecutive: i64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// True once re-queued by a retry; the package may run again.
    pub retrying: bool,
    /// retry-failures gave up on it: the same failure repeated too often.
    pub needs_attention: bool,
    pub tail: String,
}

/// Failures that share a signature, for `importctl failures`.
#[derive(Clone, Debug, Serialize)]
pub struct FailureGroup {
    pub signature: String,
    pub transient: bool,
    /// Packages with this failure.
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// A few of the packages, most recent first.
    pub examples: Vec<String>,
    /// Of them, how many need a human.
    pub needs_attention: u64,
}

/// Everything the database knows about one package, for `importctl show`.
#[derive(Clone, Debug, Serialize)]
pub struct PackageInfo {
    pub package: String,
    pub jobs: Vec<QueuedJob>,
    pub failure: Option<FailureRecord>,
    pub runs: Vec<RunRecord>,
    /// What the committed audit holds, per distribution, in name order.
    pub distributions: Vec<DistributionInfo>,
    /// The versions whose quilt patches do not apply, in version order (as text).
    pub patch_warnings: Vec<crate::audit::PatchWarning>,
}

/// One distribution's part of a package's committed audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DistributionInfo {
    /// `debian`, `ubuntu`.
    pub name: String,
    /// Its branches `importer/<name>/...`, by name.
    pub branches: Vec<BranchInfo>,
    /// Its patches-applied branches `importer/applied/<name>/...`, by name.
    pub applied_branches: Vec<BranchInfo>,
    /// The versions it published, in the order Launchpad first published each.
    pub versions: Vec<String>,
}

/// One branch of the committed audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BranchInfo {
    /// Without `refs/heads/`: `importer/ubuntu/noble-security`.
    pub name: String,
    pub commit: String,
    /// The version whose tree the branch holds, when the audit records it.
    pub version: Option<String>,
}

/// What an [`Event`] says changed. Each kind names the change, not the page that shows it;
/// readers decide what to refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A run ended (its job done, re-queued or failed); names the package.
    RunEnded,
    /// A job was queued, or its priority raised; names the package.
    Queued,
    /// A failed package was re-queued; names the package.
    Retried,
    /// The circuit breaker changed state.
    Breaker,
    /// The pause flag was set or cleared.
    Paused,
    /// An action was recorded in the audit log of actions.
    Action,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::RunEnded,
        EventKind::Queued,
        EventKind::Retried,
        EventKind::Breaker,
        EventKind::Paused,
        EventKind::Action,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RunEnded => "run_ended",
            EventKind::Queued => "queued",
            EventKind::Retried => "retried",
            EventKind::Breaker => "breaker",
            EventKind::Paused => "paused",
            EventKind::Action => "action",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One change, as recorded in the `events` table by the transaction that made it. Ids grow;
/// on PostgreSQL a transaction that began earlier may commit a smaller id later, so a reader
/// that follows them tolerates a gap for a moment (see [`Store::events_after`](crate::Store::events_after)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    pub kind: EventKind,
    pub package: Option<String>,
    pub created_at: Timestamp,
}

/// What a bearer token allows. Each role allows what the ones before it do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read the pages and the API (needed only when reading is not public).
    Viewer,
    /// Enqueue, retry, pause and resume.
    Operator,
    /// Reset a diverged remote, and manage tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bearer token as stored: its name and role. The token itself is never stored, only a
/// hash of it, so this is all that can be shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// An action to record in the audit log of actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAction<'a> {
    /// The name of the token that acted.
    pub who: &'a str,
    /// `enqueue`, `retry`, `pause`, ...
    pub action: &'a str,
    /// The package or signature acted on; empty when there is none.
    pub target: &'a str,
    pub ok: bool,
    /// What it did, or why it failed.
    pub result: &'a str,
}

/// One row of the audit log of actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionRecord {
    pub id: i64,
    pub at: Timestamp,
    pub who: String,
    pub action: String,
    pub target: String,
    pub ok: bool,
    pub result: String,
}

//! `poll-uploads`: new publications since each partition's watermark become queued jobs.
//!
//! A partition is one series of one distribution; Launchpad is asked one partition at a time
//! because unpartitioned queries time out. Obsolete series get no uploads and are skipped,
//! unless `launchpad.series = "all"`. Each poll records every distribution's series with
//! their statuses, which `import-one` reads to find the development series. For each partition the poller asks for
//! publications created since the watermark minus a skew delta, oldest first, and enqueues
//! one job per package at priority `upload`, page by page. The watermark is the largest
//! `date_created` seen: Launchpad's own time, never the local clock.
//!
//! The skew delta covers a publication that Launchpad makes visible later than one with a
//! later `date_created`. Its price is that every poll sees the publications inside the
//! window again, so the poller remembers them (the poll memory, `pkgimport_queue::poll`):
//! by Launchpad's publication id, with the status it saw. A package is enqueued only for a
//! publication that is not remembered, or that went from `Pending` to `Published` (a
//! version `import-one` may not have imported yet; it finds out cheaply if it has). Each
//! upload is therefore enqueued once, not once per poll for as long as it stays inside the
//! window.
//!
//! Watermarks move only at the very end, in one transaction, after every partition has
//! been enqueued; the same transaction replaces each partition's memory with the
//! publications inside its new window, so the memory is bounded by the window. A crash or
//! an outage part-way therefore moves neither, and the next run enqueues the same packages
//! again: triggers are at-least-once, and the queue merges duplicates.
//!
//! A partition without a watermark starts according to [`Start`]: from a given date, from
//! the beginning, or "from now". "From now" is Launchpad's now: the newest publication in
//! the partition becomes the watermark and nothing is enqueued, so a first run never floods
//! the queue by surprise; the publications inside the window behind it are remembered, or
//! the next poll would enqueue them all. Once a distribution has any watermark, a partition
//! that appears later (a new series opening) starts from the beginning, since all of it is
//! new. Each partition's first watermark records where its polling started, which is what
//! `importctl reconcile` ([`crate::reconcile`]) compares from.
//!
//! [`poll_and_record`] is what `poll-uploads` runs: the poll, then what it showed recorded
//! in the state database (the client's counters, the last successful poll, and an outcome
//! for the circuit breaker).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pkgimport_core::breaker::{BreakerSettings, Outcome};
use pkgimport_core::{PackageName, Priority};
use pkgimport_lp_client::{
    Client, LpDateTime, PublicationOrder, PublicationStatus, PublishedSourcesQuery,
};
use pkgimport_queue::monitor::SeenPublication;
use pkgimport_queue::poll::{NewWatermark, PartitionMemory, Remembered};
use pkgimport_queue::series::SeriesRow;
use pkgimport_queue::{Store, Timestamp};

/// Where a partition without a watermark starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// From Launchpad's now: record the newest publication, enqueue nothing.
    Now,
    /// From this date.
    Since(DateTime<Utc>),
    /// From the beginning: backfill everything.
    All,
}

/// What the poller needs, resolved from the configuration.
#[derive(Clone, Debug)]
pub struct PollSettings {
    pub distributions: Vec<String>,
    /// Poll Obsolete series too (`launchpad.series = "all"`).
    pub all_series: bool,
    pub skew: Duration,
    pub start: Start,
    /// Packages are enqueued in batches of this many publications.
    pub batch: usize,
    /// The circuit breaker's knobs, for recording what Launchpad's answer showed.
    pub breaker: BreakerSettings,
}

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollSummary {
    pub partitions: u64,
    /// Obsolete series not asked about.
    pub obsolete: u64,
    pub publications: u64,
    pub enqueued: u64,
    /// Publications inside the skew window that an earlier poll saw: not enqueued again.
    pub remembered: u64,
    pub skipped: u64,
    pub watermarks_moved: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("launchpad: {0}")]
    Launchpad(#[from] pkgimport_lp_client::Error),
    #[error(transparent)]
    Store(#[from] pkgimport_queue::Error),
    /// A fault injected with `PKGIMPORT_FAULT`, for recovery drills.
    #[error("fault injected at {0}")]
    Fault(String),
}

impl PollError {
    /// Launchpad stayed unavailable after retries: nothing is wrong with our data.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, PollError::Launchpad(e) if e.is_transient())
    }
}

/// The errors of [`poll_and_record`]: the poll's own, or one recording its outcome.
#[derive(Debug, thiserror::Error)]
pub enum PollRunError {
    /// The poll failed; what it showed was recorded.
    #[error(transparent)]
    Poll(PollError),
    /// Recording the poll's outcome failed; the poll's own result is not reported.
    #[error(transparent)]
    Record(pkgimport_queue::Error),
}

/// The status of a series that gets no more uploads: not polled unless asked for.
pub(crate) const OBSOLETE: &str = "Obsolete";

/// Named points where a drill can stop the poller (`PKGIMPORT_FAULT=<point>`).
pub const FAULT_BETWEEN_PARTITIONS: &str = "poll-between-partitions";

/// Polls (see [`poll`]) and records what the poll showed: the Launchpad client's request
/// counters, the time of the last successful poll (for `importctl check`), and Launchpad's
/// answer, or silence, as an outcome for the shared circuit breaker. A poll that failed for
/// another reason says nothing about Launchpad and records no outcome.
pub fn poll_and_record(
    client: &Client,
    store: &mut Store,
    settings: &PollSettings,
    fault: Option<&str>,
) -> Result<PollSummary, PollRunError> {
    let result = poll(client, store, settings, fault);
    let outcome = match &result {
        Err(e) if e.is_unavailable() => Some(Outcome::Unavailable),
        Ok(_) => Some(Outcome::Available),
        Err(_) => None,
    };
    record_client_stats(store, client).map_err(PollRunError::Record)?;
    if result.is_ok() {
        store
            .set_counters(&[("last_poll_ok_ms", Timestamp::now().0)])
            .map_err(PollRunError::Record)?;
    }
    if let Some(outcome) = outcome {
        let who = format!("poll:{}", std::process::id());
        if let Some(t) = store
            .breaker_record(outcome, &who, &settings.breaker, 0.5)
            .map_err(PollRunError::Record)?
        {
            log::warn!(
                "breaker {} -> {} after a poll",
                t.from.as_str(),
                t.to.as_str()
            );
        }
    }
    result.map_err(PollRunError::Poll)
}

/// Adds what a short-lived process's Launchpad client did to the persistent counters that
/// `importctl metrics` exports (poll-uploads and import-one both call it before they exit).
pub fn record_client_stats(
    store: &mut Store,
    client: &Client,
) -> Result<(), pkgimport_queue::Error> {
    let stats = client.stats();
    store.add_counters(&[
        ("launchpad_requests_total", stats.requests),
        ("launchpad_retries_total", stats.retries),
    ])
}

/// Polls every partition of every configured distribution. `fault` names a point at which
/// to stop with an error, for drills.
pub fn poll(
    client: &Client,
    store: &mut Store,
    settings: &PollSettings,
    fault: Option<&str>,
) -> Result<PollSummary, PollError> {
    let mut summary = PollSummary::default();
    // Stored only at the very end, in one transaction.
    let mut marks: Vec<NewWatermark> = Vec::new();
    let mut memories: Vec<PartitionMemory> = Vec::new();
    let skew = chrono::Duration::from_std(settings.skew).unwrap_or_default();
    for distro in &settings.distributions {
        let series = client.distro_series(distro)?;
        // Launchpad lists the newest first; import-one reads the statuses from here.
        let rows: Vec<SeriesRow> = series
            .iter()
            .rev()
            .map(|s| SeriesRow {
                name: s.name.clone(),
                status: s.status.clone().unwrap_or_default(),
            })
            .collect();
        store.set_series(distro, &rows)?;
        let distro_known = store.watermarks()?.iter().any(|(d, _, _)| d == distro);
        for s in &series {
            if !settings.all_series && s.status.as_deref() == Some(OBSOLETE) {
                summary.obsolete += 1;
                continue;
            }
            if summary.partitions > 0 && fault == Some(FAULT_BETWEEN_PARTITIONS) {
                return Err(PollError::Fault(FAULT_BETWEEN_PARTITIONS.to_owned()));
            }
            summary.partitions += 1;
            let mark = store.watermark(distro, &s.name)?;
            let since = match (&mark, &settings.start, distro_known) {
                (Some(m), _, _) => match LpDateTime::parse(m) {
                    Ok(m) => Some(m.utc() - skew),
                    Err(e) => {
                        log::warn!(
                            "ignoring unreadable watermark {m:?} of {distro}/{}: {e}",
                            s.name
                        );
                        None
                    }
                },
                (None, _, true) | (None, Start::All, _) => None,
                (None, Start::Since(d), false) => Some(*d),
                (None, Start::Now, false) => {
                    let (mark, memory) = start_from_now(client, distro, &s.self_link, skew)?;
                    log::info!(
                        "partition {distro}/{} starts from {}",
                        s.name,
                        mark.as_str()
                    );
                    // The newest publication is not imported: polling starts just after it
                    // (Launchpad's times have microseconds).
                    let from = mark.utc() + chrono::Duration::microseconds(1);
                    marks.push(NewWatermark {
                        distro: distro.clone(),
                        series: s.name.clone(),
                        date_created: mark.as_str().to_owned(),
                        polled_from: Some(LpDateTime::from_utc(from).as_str().to_owned()),
                    });
                    memories.push(PartitionMemory {
                        distro: distro.clone(),
                        series: s.name.clone(),
                        publications: memory,
                    });
                    continue;
                }
            };
            let memory = match &mark {
                Some(_) => store.poll_memory(distro, &s.name)?,
                None => Vec::new(),
            };
            let polled = poll_partition(
                client,
                store,
                distro,
                &s.self_link,
                since,
                &memory,
                settings,
                &mut summary,
            )?;
            let Some(newest) = polled.newest else {
                continue;
            };
            if mark.as_deref() != Some(newest.as_str()) {
                marks.push(NewWatermark {
                    distro: distro.clone(),
                    series: s.name.clone(),
                    date_created: newest.as_str().to_owned(),
                    // Kept only for a partition's first watermark.
                    polled_from: since
                        .filter(|_| mark.is_none())
                        .map(|d| LpDateTime::from_utc(d).as_str().to_owned()),
                });
            }
            if polled.window != memory {
                memories.push(PartitionMemory {
                    distro: distro.clone(),
                    series: s.name.clone(),
                    publications: polled.window,
                });
            }
        }
    }
    // Everything is enqueued: now, and only now, the watermarks move, all at once, and
    // the memory of each window with them.
    store.finish_poll(&marks, &memories)?;
    summary.watermarks_moved = marks.len() as u64;
    Ok(summary)
}

/// What polling one partition found.
struct PartitionPoll {
    /// The newest `date_created` seen.
    newest: Option<LpDateTime>,
    /// The publications inside the skew window behind `newest`, by id: the partition's
    /// new memory.
    window: Vec<Remembered>,
}

/// Enqueues every package published in one partition since `since`, a batch at a time,
/// except for the publications in `memory` (those an earlier poll saw inside the window)
/// whose status has not gone from `Pending` to `Published`.
#[expect(
    clippy::too_many_arguments,
    reason = "one partition's poll: the client, the store, where to ask, and what to add to"
)]
fn poll_partition(
    client: &Client,
    store: &mut Store,
    distro: &str,
    series_link: &str,
    since: Option<DateTime<Utc>>,
    memory: &[Remembered],
    settings: &PollSettings,
    summary: &mut PollSummary,
) -> Result<PartitionPoll, PollError> {
    let query = PublishedSourcesQuery {
        distro_series: Some(series_link.to_owned()),
        created_since_date: since,
        order: PublicationOrder::OldestFirst,
        ..PublishedSourcesQuery::default()
    };
    let skew = chrono::Duration::from_std(settings.skew).unwrap_or_default();
    let remembered: HashMap<i64, &str> = memory.iter().map(|r| (r.id, r.status.as_str())).collect();
    // Oldest first: what falls out of the window behind the newest never comes back in.
    let mut window: VecDeque<(DateTime<Utc>, Remembered)> = VecDeque::new();
    let mut newest: Option<LpDateTime> = None;
    let mut batch: BTreeSet<PackageName> = BTreeSet::new();
    let mut seen: BTreeMap<String, (LpDateTime, SeenPublication)> = BTreeMap::new();
    let mut in_batch = 0usize;
    for publication in client.published_sources(distro, &query) {
        let p = publication?;
        summary.publications += 1;
        if newest
            .as_ref()
            .is_none_or(|n| p.date_created.utc() > n.utc())
        {
            newest = Some(p.date_created.clone());
        }
        let id = p.sourcepub_id().and_then(|id| i64::try_from(id).ok());
        if let (Some(id), Some(n)) = (id, &newest) {
            window.push_back((
                p.date_created.utc(),
                Remembered {
                    id,
                    status: p.status.as_str().to_owned(),
                    date_created: p.date_created.as_str().to_owned(),
                },
            ));
            let floor = n.utc() - skew;
            while window.front().is_some_and(|(d, _)| *d < floor) {
                window.pop_front();
            }
        }
        // Debian's publications stay Pending in Launchpad; both mean "uploaded".
        if !matches!(
            p.status,
            PublicationStatus::Pending | PublicationStatus::Published
        ) {
            summary.skipped += 1;
            continue;
        }
        let before = id.and_then(|id| remembered.get(&id));
        if before.is_some_and(|b| {
            !(*b == PublicationStatus::Pending.as_str() && p.status == PublicationStatus::Published)
        }) {
            summary.remembered += 1;
            continue;
        }
        match PackageName::parse(&p.source_package_name) {
            Ok(name) => {
                let newer = seen
                    .get(name.as_str())
                    .is_none_or(|(d, _)| p.date_created.utc() > d.utc());
                if newer {
                    let row = SeenPublication {
                        package: name.to_string(),
                        distro: distro.to_owned(),
                        series: p.series_name().to_owned(),
                        pocket: p.pocket.as_str().to_owned(),
                        version: p.source_package_version.clone(),
                        date_created: p.date_created.as_str().to_owned(),
                        seen_at: Timestamp::now(),
                    };
                    seen.insert(name.to_string(), (p.date_created.clone(), row));
                }
                batch.insert(name);
            }
            Err(e) => {
                log::warn!("skipping publication {}: {e}", p.self_link);
                summary.skipped += 1;
                continue;
            }
        }
        in_batch += 1;
        if in_batch >= settings.batch {
            summary.enqueued += flush(store, &mut batch, &mut seen)?;
            in_batch = 0;
        }
    }
    summary.enqueued += flush(store, &mut batch, &mut seen)?;
    let mut window: Vec<Remembered> = match &newest {
        Some(n) => {
            let floor = n.utc() - skew;
            window
                .into_iter()
                .filter(|(d, _)| *d >= floor)
                .map(|(_, r)| r)
                .collect()
        }
        None => Vec::new(),
    };
    window.sort_by_key(|r| r.id);
    Ok(PartitionPoll { newest, window })
}

/// Enqueues a batch, and remembers the newest publication seen of each package in it (for
/// the report's UP-TO-DATE column, without asking Launchpad again).
fn flush(
    store: &mut Store,
    batch: &mut BTreeSet<PackageName>,
    seen: &mut BTreeMap<String, (LpDateTime, SeenPublication)>,
) -> Result<u64, PollError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let names: Vec<PackageName> = std::mem::take(batch).into_iter().collect();
    store.enqueue(&names, Priority::UPLOAD)?;
    let rows: Vec<SeenPublication> = std::mem::take(seen)
        .into_values()
        .map(|(_, row)| row)
        .collect();
    store.record_seen(&rows, later)?;
    Ok(names.len() as u64)
}

/// Whether Launchpad time `a` is later than `b`; unreadable times count as not later.
pub fn later(a: &str, b: &str) -> bool {
    match (LpDateTime::parse(a), LpDateTime::parse(b)) {
        (Ok(a), Ok(b)) => a.utc() > b.utc(),
        _ => false,
    }
}

/// "From now": the `date_created` of the newest publication in a partition (the epoch if
/// it has none), and the publications inside the skew window behind it, by id, to be
/// remembered rather than enqueued. Newest first, so the listing stops at the window's
/// edge.
fn start_from_now(
    client: &Client,
    distro: &str,
    series_link: &str,
    skew: chrono::Duration,
) -> Result<(LpDateTime, Vec<Remembered>), PollError> {
    let query = PublishedSourcesQuery {
        distro_series: Some(series_link.to_owned()),
        order: PublicationOrder::NewestFirst,
        ..PublishedSourcesQuery::default()
    };
    let mut newest: Option<LpDateTime> = None;
    let mut memory = Vec::new();
    for publication in client.published_sources(distro, &query) {
        let p = publication?;
        let floor = newest.get_or_insert_with(|| p.date_created.clone()).utc() - skew;
        if p.date_created.utc() < floor {
            break;
        }
        if let Some(id) = p.sourcepub_id().and_then(|id| i64::try_from(id).ok()) {
            memory.push(Remembered {
                id,
                status: p.status.as_str().to_owned(),
                date_created: p.date_created.as_str().to_owned(),
            });
        }
    }
    memory.sort_by_key(|r| r.id);
    let newest = newest.unwrap_or_else(|| LpDateTime::from_utc(DateTime::UNIX_EPOCH));
    Ok((newest, memory))
}

/// Parses `--since`: RFC 3339 (`2024-01-01T00:00:00Z`) or a plain date (`2024-01-01`, UTC).
pub fn parse_since(raw: &str) -> Result<DateTime<Utc>, String> {
    let full = if raw.len() == 10 {
        format!("{raw}T00:00:00Z")
    } else {
        raw.to_owned()
    };
    DateTime::parse_from_rfc3339(&full)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("invalid date {raw:?} (use YYYY-MM-DD or RFC 3339): {e}"))
}

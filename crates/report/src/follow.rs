//! Following the events table: which pages a batch of events touches ([`Touched`]), and a
//! reader that hands out each event once, in id order as far as it can ([`Follower`]).
//!
//! Ids grow, but on PostgreSQL they are drawn when a transaction inserts and become visible
//! when it commits, so a transaction that drew a smaller id may commit after one that drew a
//! larger id. The follower therefore never moves its floor (every id at or below it is
//! handled) past a gap at once: it hands out what it sees above the gap, keeps reading from
//! the floor, and only after [`GAP_GRACE`] counts the gap as an id that never committed (a
//! transaction retried or rolled back). SQLite writes one transaction at a time, so its ids
//! have no gaps. A follower that finds the table pruned past its floor has missed events and
//! is told to refresh everything.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use pkgimport_core::PackageName;
use pkgimport_queue::{EVENTS_KEPT, Event, EventKind, Store};

/// How long a gap in the ids may wait for its transaction to commit.
pub const GAP_GRACE: Duration = Duration::from_secs(10);

/// Events read per query.
const BATCH: u32 = 1000;

/// What a batch of events touches, by page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// Events were missed: refresh every page.
    pub everything: bool,
    pub index: bool,
    pub failures: bool,
    pub queue: bool,
    pub runs: bool,
    pub actions: bool,
    /// Package pages.
    pub packages: BTreeSet<PackageName>,
}

impl Touched {
    /// Every page.
    pub fn everything() -> Touched {
        Touched {
            everything: true,
            index: true,
            failures: true,
            queue: true,
            runs: true,
            actions: true,
            packages: BTreeSet::new(),
        }
    }

    /// Adds the pages that `event` touches.
    pub fn add(&mut self, event: &Event) {
        let package = || {
            event
                .package
                .as_deref()
                .and_then(|p| PackageName::parse(p).ok())
        };
        match event.kind {
            EventKind::RunEnded => {
                (self.index, self.failures, self.queue, self.runs) = (true, true, true, true);
                self.packages.extend(package());
            }
            EventKind::Queued => {
                (self.index, self.queue) = (true, true);
                self.packages.extend(package());
            }
            EventKind::Retried => {
                (self.index, self.queue, self.failures) = (true, true, true);
                self.packages.extend(package());
            }
            EventKind::Breaker => self.index = true,
            EventKind::Paused => (self.index, self.queue) = (true, true),
            EventKind::Action => self.actions = true,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Touched::default()
    }
}

/// Reads the events table from where it last stopped.
#[derive(Clone, Debug)]
pub struct Follower {
    /// Every event with an id at or below this was handed out, or counted as never
    /// committed.
    floor: i64,
    /// Ids above the floor handed out already (the floor waits below a gap).
    seen: BTreeSet<i64>,
    /// Since when the floor has waited below a gap.
    gap_since: Option<Instant>,
}

impl Follower {
    /// A follower of the events from now on.
    pub fn from_now(store: &mut Store) -> Result<Follower, pkgimport_queue::Error> {
        Ok(Follower::after(store.last_event_id()?))
    }

    /// A follower of the events after `id`.
    pub fn after(id: i64) -> Follower {
        Follower {
            floor: id,
            seen: BTreeSet::new(),
            gap_since: None,
        }
    }

    /// The highest id below which nothing is pending.
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// Reads the events not handed out yet, and what they touch.
    pub fn poll(
        &mut self,
        store: &mut Store,
    ) -> Result<(Vec<Event>, Touched), pkgimport_queue::Error> {
        let mut touched = Touched::default();
        let mut new = Vec::new();
        let mut after = self.floor;
        loop {
            let batch = store.events_after(after, BATCH)?;
            if let Some(first) = batch.first()
                && after == self.floor
                && first.id - self.floor > EVENTS_KEPT
                && self.floor > 0
            {
                // Pruned past us: whatever was between is gone.
                touched = Touched::everything();
            }
            let full = batch.len() == BATCH as usize;
            for event in batch {
                after = event.id;
                if self.seen.insert(event.id) {
                    touched.add(&event);
                    new.push(event);
                }
            }
            if !full {
                break;
            }
        }
        self.advance();
        Ok((new, touched))
    }

    /// Moves the floor over every contiguous id seen, and over a gap that outlived its grace.
    fn advance(&mut self) {
        loop {
            while self.seen.remove(&(self.floor + 1)) {
                self.floor += 1;
            }
            let Some(&next) = self.seen.first() else {
                self.gap_since = None;
                return;
            };
            match self.gap_since {
                None => {
                    self.gap_since = Some(Instant::now());
                    return;
                }
                Some(since) if since.elapsed() >= GAP_GRACE => {
                    self.floor = next - 1;
                    self.gap_since = None;
                }
                Some(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgimport_queue::Timestamp;

    fn event(id: i64, kind: EventKind, package: Option<&str>) -> Event {
        Event {
            id,
            kind,
            package: package.map(str::to_owned),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn each_kind_touches_its_pages() {
        let mut t = Touched::default();
        assert!(t.is_empty());
        t.add(&event(1, EventKind::Action, None));
        assert!(t.actions && !t.index);
        t.add(&event(2, EventKind::Queued, Some("hello")));
        assert!(t.index && t.queue && !t.failures && !t.runs);
        t.add(&event(3, EventKind::RunEnded, Some("world")));
        assert!(t.failures && t.runs);
        t.add(&event(4, EventKind::Queued, Some("../etc")));
        let names: Vec<&str> = t.packages.iter().map(PackageName::as_str).collect();
        assert_eq!(names, ["hello", "world"], "invalid names touch no page");
    }

    #[test]
    fn the_floor_waits_below_a_gap_then_passes_it() {
        let mut f = Follower::after(5);
        f.seen.extend([6, 8]);
        f.advance();
        assert_eq!(f.floor(), 6, "7 may still commit");
        assert!(f.gap_since.is_some());
        f.seen.insert(7);
        f.advance();
        assert_eq!(f.floor(), 8);
        assert!(f.gap_since.is_none());
        f.seen.insert(10);
        f.advance();
        f.gap_since = Some(Instant::now() - GAP_GRACE);
        f.advance();
        assert_eq!(f.floor(), 10, "9 never committed");
    }
}

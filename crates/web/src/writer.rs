//! The one writer of the page cache. It follows the events table (woken by PostgreSQL's
//! `NOTIFY` when there is one, polling by id otherwise) and re-renders only the pages that a
//! batch of events touches: the fixed pages named, and the package pages that are cached.
//! Once a second it also re-reads the importer's health for `/health/agent`, and
//! re-renders the index when the driver's heartbeat goes stale or comes back, the one
//! change the index shows that no event records.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pkgimport_queue::{Backend, Store, Timestamp};
use pkgimport_report::ReportOptions;
use pkgimport_report::follow::{Follower, Touched};
use pkgimport_report::series::{StatusJson, series_reports};
use tokio::sync::{Notify, watch};

use crate::cache::{Form, Page, Rendered};
use crate::health::Importer;
use crate::{Error, State};

/// The pages rendered at start and kept always.
const FIXED: [Page; 5] = [
    Page::Index,
    Page::Failures,
    Page::Queue,
    Page::Runs,
    Page::Actions,
];

/// The fixed pages (index, queue, failures, runs, actions) are re-rendered at most this often;
/// package pages at once.
const FIXED_EVERY: Duration = Duration::from_secs(1);

/// How often the health snapshot is re-read.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// Renders `page` in `form` from the store: the work of a database thread.
pub(crate) fn render(
    store: &mut Store,
    options: &ReportOptions,
    page: &Page,
    form: Form,
) -> Result<Rendered, Error> {
    use pkgimport_report::site;
    let web = |p: site::WebPage| Rendered::Html {
        title: p.title,
        body: p.body.into_string(),
    };
    let json = |v: Result<String, serde_json::Error>| {
        Rendered::Json(v.unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
    };
    Ok(match (page, form) {
        (Page::Index, Form::Html) => web(site::index_page(store, options)?),
        (Page::Failures, Form::Html) => web(site::failures_page(store, options)?),
        (Page::Queue, Form::Html) => web(site::queue_page(store, options)?),
        (Page::Runs, Form::Html) => web(site::runs_page(store, options)?),
        (Page::Actions, Form::Html) => web(site::actions_page(store, options)?),
        (Page::Package(name), Form::Html) => match site::package_page(store, options, name)? {
            Some(p) => web(p),
            None => Rendered::Missing,
        },
        (Page::Index, Form::Json) => {
            let status = store.status()?;
            let series = series_reports(store)?;
            json(serde_json::to_string_pretty(&StatusJson::new(
                status, &series,
            )))
        }
        (Page::Failures, Form::Json) => {
            json(serde_json::to_string_pretty(&store.failure_groups(5)?))
        }
        (Page::Queue, Form::Json) => json(serde_json::to_string_pretty(&store.queue(None)?)),
        (Page::Runs, Form::Json) => json(serde_json::to_string_pretty(
            &store.runs(None, options.recent_runs)?,
        )),
        (Page::Actions, Form::Json) => json(serde_json::to_string_pretty(&store.actions(100)?)),
        (Page::Package(name), Form::Json) => {
            let info = store.show(name)?;
            let known = !info.jobs.is_empty()
                || info.failure.is_some()
                || !info.runs.is_empty()
                || !info.distributions.is_empty();
            if known {
                json(serde_json::to_string_pretty(&info))
            } else {
                Rendered::Missing
            }
        }
    })
}

/// The report's options for a render now.
pub(crate) fn options(state: &State) -> ReportOptions {
    ReportOptions::with_default_limits(state.settings.state_dir.clone(), Timestamp::now())
}

/// Renders one page on a database thread.
pub(crate) async fn render_async(state: &State, page: Page, form: Form) -> Result<Rendered, Error> {
    let options = options(state);
    state
        .db
        .run(move |s| render(s, &options, &page, form))
        .await?
}

/// Renders the fixed pages and reads the health once, before the service listens.
pub(crate) async fn prime(state: &State) -> Result<(), Error> {
    for page in FIXED {
        for form in [Form::Html, Form::Json] {
            let rendered = render_async(state, page.clone(), form).await?;
            state.cache.put(page.clone(), form, rendered);
        }
    }
    refresh_health(state).await;
    Ok(())
}

/// Follows the events until `stop` turns true.
pub(crate) async fn run(state: State, mut stop: watch::Receiver<bool>) {
    let wake = Arc::new(Notify::new());
    let listening = Arc::new(AtomicBool::new(true));
    let start = state.db.run(|s| (s.last_event_id(), s.backend())).await;
    let (mut follower, backend) = match start {
        Ok((Ok(id), backend)) => (Follower::after(id), backend),
        Ok((Err(e), _)) => {
            log::error!("cannot read the events table; pages will not follow changes error={e}");
            return;
        }
        Err(_) => return,
    };
    // Pages were rendered before the service listened; events since then refresh them below.
    let mut pending = Touched::everything();
    let mut fixed_at: Option<Instant> = None;
    if backend == Backend::Postgres {
        listen(&state, wake.clone(), listening.clone());
    }
    let mut last_health = Instant::now();
    let mut was_alive = driver_alive(&state);
    loop {
        let mut events = Vec::new();
        if !pending.is_empty() {
            // Package pages at once; the fixed pages at most once per FIXED_EVERY, since each
            // of them reads lists that grow with the whole queue.
            let due = pending.everything || fixed_at.is_none_or(|t| t.elapsed() >= FIXED_EVERY);
            apply(&state, &pending, due).await;
            if due {
                pending = Touched::default();
                fixed_at = Some(Instant::now());
            } else {
                pending.packages.clear();
            }
        }
        tokio::select! {
            _ = stop.changed() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(state.settings.event_poll) => {}
        }
        let polled = state
            .db
            .run(move |s| {
                let r = follower.poll(s);
                (follower, r)
            })
            .await;
        match polled {
            Ok((f, Ok((new, touched)))) => {
                follower = f;
                merge(&mut pending, touched);
                events = new;
            }
            Ok((f, Err(e))) => {
                follower = f;
                log::warn!("cannot read events error={e}");
            }
            Err(_) => break,
        }
        if !events.is_empty() {
            let due = pending.everything || fixed_at.is_none_or(|t| t.elapsed() >= FIXED_EVERY);
            apply(&state, &pending, due).await;
            if due {
                pending = Touched::default();
                fixed_at = Some(Instant::now());
            } else {
                pending.packages.clear();
            }
            let now = Timestamp::now();
            for e in &events {
                state
                    .metrics
                    .event_delay(e.created_at.age(now).as_secs_f64());
            }
            log::debug!(
                "pages refreshed events={} last={}",
                events.len(),
                events.last().map_or(0, |e| e.id)
            );
        }
        if last_health.elapsed() >= HEALTH_EVERY {
            last_health = Instant::now();
            refresh_health(&state).await;
            let alive = driver_alive(&state);
            if alive != was_alive {
                was_alive = alive;
                pending.index = true;
            }
        }
    }
    listening.store(false, Ordering::Relaxed);
}

/// Adds what `more` touches to `into`.
fn merge(into: &mut Touched, more: Touched) {
    into.everything |= more.everything;
    into.index |= more.index;
    into.failures |= more.failures;
    into.queue |= more.queue;
    into.runs |= more.runs;
    into.actions |= more.actions;
    into.packages.extend(more.packages);
}

/// Marks, then re-renders, what `touched` names: its package pages, and its fixed pages when
/// `fixed_due`.
async fn apply(state: &State, touched: &Touched, fixed_due: bool) {
    let cached = state.cache.cached_packages();
    let fixed: Vec<Page> = FIXED
        .into_iter()
        .filter(|p| {
            fixed_due
                && (touched.everything
                    || match p {
                        Page::Index => touched.index,
                        Page::Failures => touched.failures,
                        Page::Queue => touched.queue,
                        Page::Runs => touched.runs,
                        Page::Actions => touched.actions,
                        Page::Package(_) => false,
                    })
        })
        .collect();
    let packages: Vec<Page> = if touched.everything {
        cached
            .iter()
            .map(|(n, _)| Page::Package(n.clone()))
            .collect()
    } else {
        touched
            .packages
            .iter()
            .cloned()
            .map(Page::Package)
            .collect()
    };
    state
        .cache
        .mark(packages.into_iter().chain(fixed.iter().cloned()));
    // The JSON of the fixed pages is rendered again when next asked for.
    for p in &fixed {
        state.cache.remove(p, Form::Json);
    }
    // Package pages first: they are small, and a run that ends is looked for there. Then the
    // fixed pages, whose lists (the queue) can be long. The renders share the database
    // threads, so they run side by side.
    let mut pages: Vec<(Page, Form)> = cached
        .into_iter()
        .filter(|(name, _)| touched.everything || touched.packages.contains(name))
        .map(|(name, form)| (Page::Package(name), form))
        .collect();
    pages.extend(fixed.into_iter().map(|p| (p, Form::Html)));
    let mut renders = tokio::task::JoinSet::new();
    for (page, form) in pages {
        let state = state.clone();
        renders.spawn(async move {
            match render_async(&state, page.clone(), form).await {
                Ok(r) => state.cache.put(page, form, r),
                Err(e) => log::warn!("cannot render page={page:?} error={e}"),
            }
        });
    }
    while renders.join_next().await.is_some() {}
}

/// Re-reads what the agent check reports.
async fn refresh_health(state: &State) {
    let read = state
        .db
        .run(|s| -> Result<Importer, pkgimport_queue::Error> {
            let st = s.status()?;
            let last_poll = s
                .counters()?
                .into_iter()
                .find(|(n, _)| n == "last_poll_ok_ms")
                .map(|(_, v)| Timestamp(v));
            Ok(Importer {
                read_at: Some(Timestamp::now()),
                error: None,
                driver_seen: st.driver.map(|d| d.last_seen),
                breaker: st.breaker,
                last_poll,
                paused: st.paused,
            })
        })
        .await;
    match read {
        Ok(Ok(importer)) => state.health.set(importer),
        Ok(Err(e)) => {
            log::warn!("cannot read the importer's health error={e}");
            let mut importer = state.health.get();
            importer.error = Some(e.to_string());
            state.health.set(importer);
        }
        Err(_) => {}
    }
}

fn driver_alive(state: &State) -> bool {
    let importer = state.health.get();
    importer
        .driver_seen
        .is_some_and(|t| t.age(Timestamp::now()) <= state.settings.agent.driver_age_down)
}

/// On PostgreSQL: a thread of its own waits for the events' `NOTIFY` and wakes the writer.
fn listen(state: &State, wake: Arc<Notify>, listening: Arc<AtomicBool>) {
    let open = state.open_store.clone();
    let spawned = std::thread::Builder::new()
        .name("events".to_owned())
        .spawn(move || {
            let mut store = match open() {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("cannot listen for events; polling only error={e}");
                    return;
                }
            };
            while listening.load(Ordering::Relaxed) {
                match store.wait_for_events(Duration::from_secs(1)) {
                    Ok(true) => wake.notify_one(),
                    Ok(false) => {}
                    Err(e) => {
                        log::warn!("waiting for events error={e}");
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the events listener; polling only error={e}");
    }
}

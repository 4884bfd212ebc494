//! `importctl`: the operator's and the scripts' view of the state database.
//!
//! Each subcommand is one function from parsed arguments to output on stdout. Tables are for
//! people; `--json` is for scripts, with the keys documented in docs/json.md. A closed pipe
//! (`importctl queue | head`) is not an error.

use std::io::{self, BufRead, Write};

use anyhow::Context;
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Store, Timestamp};

use crate::config::{self, Config};
use crate::{Exit, Failure, OrExit};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create the state directory and database (every binary also does this on start)
    Init,
    /// Queue packages for import; `-` reads names from stdin, one a line
    Enqueue {
        /// manual (100), upload (50), retry (30), rescan (10), or an integer
        #[arg(long, short, default_value = "manual", value_parser = Priority::parse)]
        priority: Priority,
        /// Package names, or `-` for stdin
        #[arg(required = true, value_name = "PKG")]
        packages: Vec<String>,
    },
    /// One-screen summary: queue, running, failed, paused, driver
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Jobs in claim order, running first
    Queue {
        #[arg(long)]
        json: bool,
        /// Show at most this many
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Recent import runs, newest first
    Runs {
        /// Only this package
        package: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Recorded failures, grouped by signature (--all: one line per package)
    Failures {
        #[arg(long)]
        json: bool,
        /// One line per package instead of groups
        #[arg(long)]
        all: bool,
    },
    /// Re-queue failed packages at manual priority: by name, by signature, or all transient
    Retry {
        #[arg(value_name = "PKG", required_unless_present_any = ["signature", "transient"])]
        packages: Vec<String>,
        /// Every package failed with this signature (as `importctl failures` shows it)
        #[arg(long, conflicts_with = "packages")]
        signature: Option<String>,
        /// Every package with a transient failure
        #[arg(long, conflicts_with_all = ["packages", "signature"])]
        transient: bool,
    },
    /// The circuit breaker
    Breaker {
        #[command(subcommand)]
        command: BreakerCommand,
    },
    /// Everything known about one package
    Show {
        package: String,
        #[arg(long)]
        json: bool,
    },
    /// Compare each package's remote refs with the committed audit; exit 2 on any mismatch
    Verify {
        /// Packages to check
        #[arg(value_name = "PKG", required_unless_present = "all")]
        packages: Vec<String>,
        /// Check every package in the audit
        #[arg(long, conflicts_with = "packages")]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Resolve a remote that diverged from the audit (see docs/operations.md)
    Reset {
        package: String,
        /// Accept what the remote holds: the audit takes the remote's refs
        #[arg(long, required_unless_present = "restore", conflicts_with = "restore")]
        adopt_remote: bool,
        /// Put the remote back to what the audit says
        #[arg(long)]
        restore: bool,
    },
    /// Nagios/Icinga plugin: one line, exit 0/1/2/3 for OK/WARNING/CRITICAL/UNKNOWN
    Check {
        /// Override a warning threshold: LABEL=RANGE (labels: failed, oldest_age,
        /// breaker_open, driver_age, poll_age, verify_mismatches, wal_bytes)
        #[arg(short = 'w', long = "warning", value_name = "LABEL=RANGE")]
        warning: Vec<String>,
        /// Override a critical threshold: LABEL=RANGE
        #[arg(short = 'c', long = "critical", value_name = "LABEL=RANGE")]
        critical: Vec<String>,
    },
    /// Prometheus text exposition format on stdout, or atomically into DIR/package-importer.prom
    Metrics {
        /// node_exporter's textfile collector directory
        #[arg(long, value_name = "DIR")]
        textfile: Option<std::path::PathBuf>,
    },
    /// Record today's failure count, the baseline of `check` (run daily)
    Snapshot,
    /// Write the static HTML status site into DIR, atomically
    Report {
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    /// Let running imports finish, claim nothing new
    Pause,
    /// Claim again after a pause
    Resume,
    /// Configuration
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Copy the SQLite state database into an empty PostgreSQL database; stop the driver
    /// and the timers first (docs/operations.md, "Moving to PostgreSQL")
    #[command(
        after_help = "Exit codes: 0 copied; 65 the target has rows; 69 the target is \
                      unreachable; 73 the driver or poll-uploads runs; 78 no state database, \
                      or an unusable URL (wrong scheme, unknown database, refused login)."
    )]
    MigrateDb {
        /// The target, postgres://USER[:PASSWORD]@HOST[:PORT]/DB: an empty database (its
        /// schema is created); `-` reads it from stdin, out of sight of `ps`. The state
        /// database read is <state_dir>/state.db, whatever database.url says
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum BreakerCommand {
    /// Close the breaker by hand: dispatch resumes at full concurrency
    Reset,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// The effective configuration, with where each value came from
    Show,
    /// A commented template with every key at its default
    Example,
}

/// Runs one subcommand.
pub fn run(command: Command, config: &Config) -> Result<Exit, Failure> {
    let out = &mut io::stdout().lock();
    let result = dispatch(command, config, out);
    match result {
        Err(f) if is_broken_pipe(&f.error) => Ok(Exit::Ok),
        other => other,
    }
}

fn dispatch(command: Command, config: &Config, out: &mut dyn Write) -> Result<Exit, Failure> {
    if let Command::Config { command } = command {
        return config_command(command, config, out);
    }
    if let Command::Check { warning, critical } = command {
        return check(config, &warning, &critical, out);
    }
    if let Command::MigrateDb { to } = &command {
        return migrate_db(config, to, out);
    }
    let state_dir = config.state_dir();
    let mut store = crate::open_store(config)?;
    match command {
        Command::Init => {
            for sub in ["locks", "logs"] {
                let p = state_dir.join(sub);
                std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
            }
            writeln!(out, "initialised {}", store.path().display())?;
            Ok(Exit::Ok)
        }
        Command::Enqueue { priority, packages } => enqueue(&mut store, priority, &packages, out),
        Command::Status { json } => {
            let st = store.status()?;
            if json {
                print_json(out, &st)?;
            } else {
                let now = Timestamp::now();
                writeln!(
                    out,
                    "queued:   {} ({} delayed, {} blocked by failures)",
                    st.queued, st.delayed, st.blocked
                )?;
                writeln!(out, "running:  {}", st.running)?;
                writeln!(
                    out,
                    "failed:   {} ({} need attention)",
                    st.failed, st.needs_attention
                )?;
                let since = st.breaker_opened_at.map_or(String::new(), |t| {
                    format!(" since {}", ago(t.age(now).as_millis() as u64))
                });
                writeln!(out, "breaker:  {}{since}", st.breaker)?;
                writeln!(out, "paused:   {}", if st.paused { "yes" } else { "no" })?;
                let oldest = st
                    .oldest_queued_age_s
                    .map_or("-".to_owned(), |s| ago(s * 1000));
                writeln!(out, "oldest:   {oldest}")?;
                let driver = match &st.driver {
                    Some(hb) => format!(
                        "pid {} on {}, last seen {} ago",
                        hb.pid,
                        hb.host,
                        ago(hb.last_seen.age(now).as_millis() as u64)
                    ),
                    None => "never seen".to_owned(),
                };
                writeln!(out, "driver:   {driver}")?;
            }
            Ok(Exit::Ok)
        }
        Command::Queue { json, limit } => {
            let jobs = store.queue(limit)?;
            if json {
                print_json(out, &jobs)?;
                return Ok(Exit::Ok);
            }
            let now = Timestamp::now();
            writeln!(
                out,
                "{:>8}  {:<30} {:>8}  {:<8} {:>8}  {:>8}  NOTE",
                "ID", "PACKAGE", "PRIORITY", "STATE", "AGE", "ATTEMPTS"
            )?;
            for j in jobs {
                let note = if j.blocked {
                    "blocked by a failure".to_owned()
                } else {
                    match j.not_before {
                        Some(t) if t > now => format!("waits {}", ago((t.0 - now.0) as u64)),
                        _ => String::new(),
                    }
                };
                writeln!(
                    out,
                    "{:>8}  {:<30} {:>8}  {:<8} {:>8}  {:>8}  {note}",
                    j.id,
                    j.package,
                    j.priority.to_string(),
                    j.state,
                    ago(j.enqueued_at.age(now).as_millis() as u64),
                    j.attempts
                )?;
            }
            Ok(Exit::Ok)
        }
        Command::Runs {
            package,
            json,
            limit,
        } => {
            let package = package.as_deref().map(parse_name).transpose()?;
            let runs = store.runs(package.as_ref(), limit)?;
            if json {
                print_json(out, &runs)?;
                return Ok(Exit::Ok);
            }
            writeln!(
                out,
                "{:>8}  {:<30} {:<20}  {:>8}  {:<11} {:>4}  SIGNATURE",
                "RUN", "PACKAGE", "STARTED", "SECONDS", "OUTCOME", "EXIT"
            )?;
            for r in runs {
                writeln!(
                    out,
                    "{:>8}  {:<30} {:<20}  {:>8}  {:<11} {:>4}  {}",
                    r.id,
                    r.package,
                    r.started_at.to_string(),
                    r.duration_s.map_or("-".into(), |d| format!("{d:.1}")),
                    r.outcome.map_or("running", |o| o.as_str()),
                    r.exit_code.map_or("-".into(), |c| c.to_string()),
                    r.signature.unwrap_or_default()
                )?;
            }
            Ok(Exit::Ok)
        }
        Command::Failures { json, all } => failures(&mut store, json, all, out),
        Command::Breaker {
            command: BreakerCommand::Reset,
        } => {
            match store.breaker_reset()? {
                Some(t) => writeln!(out, "breaker {} -> closed", t.from.as_str())?,
                None => writeln!(out, "breaker was already closed")?,
            }
            Ok(Exit::Ok)
        }
        Command::Retry {
            packages,
            signature,
            transient,
        } => {
            let names = if signature.is_some() || transient {
                store.failed_packages(signature.as_deref(), transient)?
            } else {
                packages
                    .iter()
                    .map(|p| parse_name(p))
                    .collect::<Result<Vec<_>, _>>()?
            };
            let had = store.retry(&names, Priority::MANUAL)?;
            writeln!(
                out,
                "re-queued {} packages ({} had a recorded failure)",
                names.len(),
                had.len()
            )?;
            Ok(Exit::Ok)
        }
        Command::Show { package, json } => {
            let info = store.show(&parse_name(&package)?)?;
            if json {
                print_json(out, &info)?;
                return Ok(Exit::Ok);
            }
            writeln!(out, "package:  {}", info.package)?;
            if info.jobs.is_empty() {
                writeln!(out, "jobs:     none")?;
            }
            for j in &info.jobs {
                writeln!(
                    out,
                    "job:      {} {} priority {} attempts {}",
                    j.id, j.state, j.priority, j.attempts
                )?;
            }
            match &info.failure {
                Some(f) => {
                    writeln!(
                        out,
                        "failure:  {} ({} attempts, {} in a row, {})",
                        f.signature,
                        f.attempts,
                        f.consecutive,
                        if f.retrying {
                            "retrying"
                        } else if f.transient {
                            "transient"
                        } else {
                            "permanent"
                        }
                    )?;
                    for line in f.tail.lines() {
                        writeln!(out, "          | {line}")?;
                    }
                }
                None => writeln!(out, "failure:  none")?,
            }
            for r in &info.runs {
                writeln!(
                    out,
                    "run:      {} {} {} exit {} log {}",
                    r.id,
                    r.started_at,
                    r.outcome.map_or("running", |o| o.as_str()),
                    r.exit_code.map_or("-".into(), |c| c.to_string()),
                    state_dir.join(&r.log_path).display()
                )?;
            }
            Ok(Exit::Ok)
        }
        Command::Verify {
            packages,
            all,
            json,
        } => {
            let names = if all {
                store
                    .audited_packages()?
                    .iter()
                    .map(|p| parse_name(p))
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                packages
                    .iter()
                    .map(|p| parse_name(p))
                    .collect::<Result<Vec<_>, _>>()?
            };
            verify(&mut store, config, &names, json, out)
        }
        Command::Reset {
            package,
            adopt_remote,
            restore: _,
        } => {
            let package = parse_name(&package)?;
            let settings = crate::import_settings(config, None);
            let _lock = crate::lock_package(&store, &state_dir, &package, false)?;
            if adopt_remote {
                let n = pkgimport_importer::verify::adopt_remote(&mut store, &settings, &package)
                    .map_err(import_failure)?;
                writeln!(out, "{package}: the audit now holds the remote's {n} refs")?;
            } else {
                let n = pkgimport_importer::verify::restore(&mut store, &settings, &package)
                    .map_err(import_failure)?;
                writeln!(
                    out,
                    "{package}: restored {n} refs on the remote from the audit"
                )?;
            }
            Ok(Exit::Ok)
        }
        Command::Metrics { textfile } => {
            let text = pkgimport_importer::metrics::render(&mut store, Timestamp::now())?;
            match textfile {
                None => write!(out, "{text}")?,
                Some(dir) => {
                    let tmp = dir.join(format!(".package-importer.prom.{}", std::process::id()));
                    let target = dir.join("package-importer.prom");
                    std::fs::write(&tmp, &text)
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, &target)
                        .with_context(|| format!("renaming to {}", target.display()))?;
                }
            }
            Ok(Exit::Ok)
        }
        Command::Snapshot => {
            let day: String = Timestamp::now().to_string().chars().take(10).collect();
            let snap = store.take_snapshot(&day)?;
            writeln!(
                out,
                "snapshot {}: {} failed, {} need attention, {} queued",
                snap.day, snap.failed, snap.needs_attention, snap.queued
            )?;
            Ok(Exit::Ok)
        }
        Command::Report { out: dir } => {
            use pkgimport_queue::lock::{self, LockName};
            let Ok(_lock) = lock::try_lock(&state_dir, LockName::Report).or_exit(Exit::Failure)?
            else {
                log::info!("another importctl report is writing; exiting");
                return Ok(Exit::Ok);
            };
            let options = pkgimport_report::ReportOptions::with_default_limits(
                state_dir.clone(),
                Timestamp::now(),
            );
            let s = pkgimport_report::write_report(&mut store, &options, &dir)
                .with_context(|| format!("writing the report into {}", dir.display()))?;
            writeln!(
                out,
                "report in {}: {} packages ({} out of date), {} failed, {} pages",
                dir.display(),
                s.packages,
                s.out_of_date,
                s.failed,
                s.pages
            )?;
            Ok(Exit::Ok)
        }
        Command::Check { .. } => unreachable!("handled above"),
        Command::Pause => {
            store.set_paused(true)?;
            writeln!(
                out,
                "paused: running imports finish, nothing new is claimed"
            )?;
            Ok(Exit::Ok)
        }
        Command::Resume => {
            store.set_paused(false)?;
            writeln!(out, "resumed")?;
            Ok(Exit::Ok)
        }
        Command::Config { .. } => unreachable!("handled above"),
        Command::MigrateDb { .. } => unreachable!("handled above"),
    }
}

/// `migrate-db`: copies `<state_dir>/state.db` into the empty PostgreSQL database `to` (see
/// `copy_to_postgres`) and prints the rows copied per table. The target's URL is only
/// ever shown redacted. Exit 65 when the target has rows: the input is wrong for this
/// command and trying again will not change that, while 1 would say nothing more than
/// "failed".
fn migrate_db(config: &Config, to: &str, out: &mut dyn Write) -> Result<Exit, Failure> {
    use pkgimport_queue::copy_to_postgres::{CopyError as E, copy_to_postgres};
    let state_dir = config.state_dir();
    let mut line = String::new();
    let to = match to {
        "-" => {
            io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the target URL from stdin")?;
            line.trim()
        }
        url => url,
    };
    let summary = copy_to_postgres(&state_dir, to).map_err(|e| {
        let exit = match &e {
            E::NoSource { .. } | E::BadTarget(_) => Exit::Config,
            E::Running { .. } => Exit::Locked,
            E::TargetNotEmpty { .. } => Exit::DataErr,
            E::Unavailable(_) => Exit::Unavailable,
            E::Store(s) if s.is_transient() => Exit::TempFail,
            E::Store(_) => Exit::Failure,
        };
        let context = format!("migrating the state database of {}", state_dir.display());
        Failure::new(exit, anyhow::Error::new(e).context(context))
    })?;
    writeln!(
        out,
        "copied {} into {} in {:.1}s",
        summary.source.display(),
        summary.target,
        summary.elapsed.as_secs_f64()
    )?;
    for t in &summary.tables {
        writeln!(out, "  {:<22} {:>10}", t.table, t.rows)?;
    }
    writeln!(out, "  {:<22} {:>10}", "total", summary.total_rows())?;
    writeln!(
        out,
        "next: set database.url (env PKGIMPORT_DATABASE_URL) to the --to URL, then start the \
         driver and the timers"
    )?;
    Ok(Exit::Ok)
}

fn config_command(
    command: ConfigCommand,
    config: &Config,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    match command {
        ConfigCommand::Show => {
            match &config.file {
                Some(f) => writeln!(out, "# config file: {}", f.display())?,
                None => writeln!(
                    out,
                    "# config file: none ({} does not exist)",
                    config::SYSTEM_CONFIG
                )?,
            }
            for (key, value, source) in config.show() {
                writeln!(out, "{key} = {value}  # {source}")?;
            }
        }
        ConfigCommand::Example => write!(out, "{}", config::example())?,
    }
    Ok(Exit::Ok)
}

fn failures(
    store: &mut Store,
    json: bool,
    all: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    if all {
        let failures = store.failures()?;
        if json {
            print_json(out, &failures)?;
            return Ok(Exit::Ok);
        }
        writeln!(
            out,
            "{:<30} {:<15} {:>8} {:>6}  {:<20}  SIGNATURE",
            "PACKAGE", "KIND", "ATTEMPTS", "IN-ROW", "LAST SEEN"
        )?;
        for f in failures {
            let kind = match (f.retrying, f.needs_attention, f.transient) {
                (true, _, _) => "retrying",
                (false, true, _) => "needs attention",
                (false, false, true) => "transient",
                (false, false, false) => "permanent",
            };
            writeln!(
                out,
                "{:<30} {kind:<15} {:>8} {:>6}  {:<20}  {}",
                f.package,
                f.attempts,
                f.consecutive,
                f.last_seen.to_string(),
                f.signature
            )?;
        }
        return Ok(Exit::Ok);
    }
    let groups = store.failure_groups(5)?;
    if json {
        print_json(out, &groups)?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{:>6}  {:<9}  {:<20}  {:<20}  SIGNATURE",
        "COUNT", "KIND", "FIRST SEEN", "LAST SEEN"
    )?;
    for g in groups {
        let kind = if g.transient {
            "transient"
        } else {
            "permanent"
        };
        writeln!(
            out,
            "{:>6}  {kind:<9}  {:<20}  {:<20}  {}",
            g.count,
            g.first_seen.to_string(),
            g.last_seen.to_string(),
            g.signature
        )?;
        let attention = match g.needs_attention {
            0 => String::new(),
            n => format!(" ({n} need attention)"),
        };
        writeln!(out, "{:>62}e.g. {}{attention}", "", g.examples.join(" "))?;
    }
    Ok(Exit::Ok)
}

fn enqueue(
    store: &mut Store,
    priority: Priority,
    args: &[String],
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut names = Vec::new();
    let mut bad = 0u64;
    let mut take = |raw: &str| match PackageName::parse(raw) {
        Ok(n) => names.push(n),
        Err(e) => {
            bad += 1;
            log::error!("{e}");
        }
    };
    for arg in args {
        if arg == "-" {
            for line in io::stdin().lock().lines() {
                let line = line.context("reading package names from stdin")?;
                let line = line.trim();
                if !line.is_empty() {
                    take(line);
                }
            }
        } else {
            take(arg);
        }
    }
    let s = store.enqueue(&names, priority)?;
    writeln!(
        out,
        "enqueued at priority {priority}: {} added, {} raised, {} already queued",
        s.added, s.raised, s.unchanged
    )?;
    if !s.blocked.is_empty() {
        writeln!(
            out,
            "note: {} of them have a recorded failure and wait for `importctl retry`: {}",
            s.blocked.len(),
            s.blocked
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        )?;
    }
    if bad > 0 {
        return Err(Failure::new(
            Exit::DataErr,
            anyhow::anyhow!("{bad} invalid package names were not queued"),
        ));
    }
    Ok(Exit::Ok)
}

fn verify(
    store: &mut Store,
    config: &Config,
    packages: &[PackageName],
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let settings = crate::import_settings(config, None);
    let mut all = Vec::new();
    let mut errors = 0;
    for package in packages {
        match pkgimport_importer::verify::verify(store, &settings, package) {
            Ok(m) => all.extend(m),
            Err(e) => {
                errors += 1;
                log::error!("verify {package}: {e}");
            }
        }
    }
    if json {
        print_json(out, &all)?;
    } else {
        for m in &all {
            writeln!(
                out,
                "{}: {} expected {} actual {}",
                m.package,
                m.name,
                m.expected.as_deref().unwrap_or("(none)"),
                m.actual.as_deref().unwrap_or("(none)")
            )?;
        }
        writeln!(
            out,
            "verified {} packages: {} mismatched refs",
            packages.len() - errors,
            all.len()
        )?;
    }
    if errors == 0 {
        // For `importctl check`: what the last verify found.
        let now = Timestamp::now().0;
        store.set_counters(&[
            ("last_verify_mismatches", all.len() as i64),
            ("last_verify_ms", now),
        ])?;
    }
    if errors > 0 {
        return Err(Failure::new(
            Exit::Unavailable,
            anyhow::anyhow!("{errors} packages could not be verified"),
        ));
    }
    Ok(if all.is_empty() {
        Exit::Ok
    } else {
        Exit::Mismatch
    })
}

/// The monitoring plugin. Every failure of the check itself is UNKNOWN, never an error
/// line with another exit code.
fn check(
    config: &Config,
    warning: &[String],
    critical: &[String],
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    use pkgimport_importer::check::{self, CheckSettings, Range, State};
    let result = (|| -> anyhow::Result<(State, String)> {
        let mut overrides: Vec<(String, Option<Range>, Option<Range>)> = Vec::new();
        for (arg, is_warning) in warning
            .iter()
            .map(|w| (w, true))
            .chain(critical.iter().map(|c| (c, false)))
        {
            let (label, range) = arg
                .split_once('=')
                .with_context(|| format!("{arg:?}: expected LABEL=RANGE"))?;
            if !check::LABELS.contains(&label) {
                anyhow::bail!(
                    "unknown label {label:?}; labels: {}",
                    check::LABELS.join(", ")
                );
            }
            let range = Range::parse(range).map_err(anyhow::Error::msg)?;
            let (w, c) = if is_warning {
                (Some(range), None)
            } else {
                (None, Some(range))
            };
            overrides.push((label.to_owned(), w, c));
        }
        let secs = |key: &str| config.duration(key).as_secs_f64();
        let mib = |key: &str| config.int(key) as f64 * 1024.0 * 1024.0;
        let settings = CheckSettings {
            failure_baseline: u64::try_from(config.int("check.failure_baseline")).ok(),
            failure_floor: config.int("check.failure_floor") as u64,
            oldest_age: (
                secs("check.oldest_age_warning"),
                secs("check.oldest_age_critical"),
            ),
            breaker_open: (
                secs("check.breaker_open_warning"),
                secs("check.breaker_open_critical"),
            ),
            driver_age: (
                secs("check.driver_age_warning"),
                secs("check.driver_age_critical"),
            ),
            poll_age: (
                secs("check.poll_age_warning"),
                secs("check.poll_age_critical"),
            ),
            wal_bytes: (mib("check.wal_warning_mib"), mib("check.wal_critical_mib")),
            overrides,
        };
        let db = config.state_dir().join(pkgimport_queue::DB_FILE);
        if config.database_url().is_none() && !db.exists() {
            anyhow::bail!("no state database at {}", db.display());
        }
        let mut store = Store::connect(&config.state_dir(), config.database_url())?;
        let metrics = check::measure(&mut store, &settings, Timestamp::now())?;
        Ok(check::render(&metrics))
    })();
    let (state, line) = match result {
        Ok(r) => r,
        Err(e) => (State::Unknown, check::unknown(&format!("{e:#}"))),
    };
    writeln!(out, "{line}")?;
    Ok(match state {
        State::Ok => Exit::Ok,
        State::Warning => Exit::Failure,
        State::Critical => Exit::Mismatch,
        State::Unknown => Exit::CheckUnknown,
    })
}

/// The exit code of an import error, by the exit-code contract.
pub fn import_failure(e: pkgimport_importer::import::ImportError) -> Failure {
    Failure::new(e.exit(), e.into())
}

fn parse_name(raw: &str) -> Result<PackageName, Failure> {
    PackageName::parse(raw).or_exit(Exit::DataErr)
}

fn print_json<T: serde::Serialize>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// `90061000` ms → `1d1h1m`; short and coarse, for tables.
fn ago(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::new(Exit::Failure, e.into())
    }
}

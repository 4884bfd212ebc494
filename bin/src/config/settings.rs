//! The typed settings of every binary and every importctl command, built from a [`Config`].
//!
//! This is the one file that reads configuration values by key name: the string-keyed
//! accessors of [`Config`] are private to the config module, so a binary or a command gets
//! its values only as the settings struct its library takes (`DriverSettings`,
//! `ImportSettings`, `PollSettings`, ...). The flags that override keys are named here too.
//! A test reads this file's source and checks that every key it names is in
//! [`KEYS`](super::KEYS), and that every key in the table is read here.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use pkgimport_core::breaker::BreakerSettings;
use pkgimport_driver::{DriverSettings, RequeueDelays};
use pkgimport_importer::import::ImportSettings;
use pkgimport_importer::poll::{PollSettings, Start};
use pkgimport_importer::reconcile::ReconcileSettings;
use pkgimport_importer::requeue::RetrySettings;
use pkgimport_report::check::{CheckSettings, Override};

use super::{Config, FlagValue};
use crate::{Exit, Failure, OrExit};

impl Config {
    /// `database.url`, or `None` for SQLite in the state directory.
    pub fn database_url(&self) -> Option<&str> {
        Some(self.string("database.url")).filter(|u| !u.is_empty())
    }

    /// The state directory, made absolute so that children and log lines agree on it.
    pub fn state_dir(&self) -> PathBuf {
        let dir = self.path("state_dir");
        std::path::absolute(&dir).unwrap_or(dir)
    }
}

impl FlagValue {
    /// `--state-dir DIR`, which every binary takes.
    pub fn state_dir(dir: &Path) -> FlagValue {
        FlagValue {
            key: "state_dir",
            flag: "--state-dir",
            value: dir.display().to_string(),
        }
    }

    /// The driver's `--concurrency N`.
    pub fn concurrency(n: u32) -> FlagValue {
        FlagValue {
            key: "driver.concurrency",
            flag: "--concurrency",
            value: n.to_string(),
        }
    }

    /// importer-web's `--listen ADDR`.
    pub fn listen(addr: String) -> FlagValue {
        FlagValue {
            key: "web.listen",
            flag: "--listen",
            value: addr,
        }
    }

    /// The driver's `--import-command CMD`.
    pub fn import_command(command: String) -> FlagValue {
        FlagValue {
            key: "driver.import_command",
            flag: "--import-command",
            value: command,
        }
    }
}

/// The driver's settings. A command that cannot be found is a configuration error (78)
/// here, at start, rather than one failure per package later.
pub fn driver(config: &Config, exit_when_idle: bool) -> Result<DriverSettings, Failure> {
    let state_dir = config.state_dir();
    let command = config.string("driver.import_command");
    let mut words = command.split_whitespace().map(str::to_owned);
    let program = words
        .next()
        .ok_or_else(|| anyhow!("driver.import_command is empty"))
        .or_exit(Exit::Config)?;
    let import_program = crate::startup::resolve_program(&program).or_exit(Exit::Config)?;
    let mut child_env = vec![(
        "PKGIMPORT_STATE_DIR".to_owned(),
        state_dir.display().to_string(),
    )];
    if let Some(file) = &config.file {
        let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        child_env.push(("PKGIMPORT_CONFIG".to_owned(), file.display().to_string()));
    }
    Ok(DriverSettings {
        state_dir,
        import_program,
        import_args: words.collect(),
        child_env,
        concurrency: config.int("driver.concurrency") as usize,
        run_timeout: config.duration("driver.run_timeout"),
        drain_timeout: config.duration("driver.drain_timeout"),
        poll_interval: config.duration("driver.poll_interval"),
        heartbeat_interval: config.duration("driver.heartbeat_interval"),
        requeue_delays: RequeueDelays {
            locked: config.duration("driver.locked_retry_delay"),
            unavailable: config.duration("driver.unavailable_retry_delay"),
        },
        breaker: breaker(config),
        exit_when_idle,
    })
}

/// The circuit breaker's knobs, from the `[breaker]` section.
pub fn breaker(config: &Config) -> BreakerSettings {
    BreakerSettings {
        open_duration: config.duration("breaker.open_duration"),
        max_open_duration: config.duration("breaker.max_open_duration"),
        trip_consecutive: config.int("breaker.trip_consecutive") as u32,
        trip_ratio: config.float("breaker.trip_ratio"),
        trip_min_outcomes: config.int("breaker.trip_min_outcomes") as u32,
        trip_window: config.duration("breaker.trip_window"),
        probe_lease: config.duration("breaker.probe_lease"),
    }
}

/// A Launchpad client configured from the `[launchpad]` section. An unreadable credentials
/// file is a configuration error (78).
pub fn launchpad_client(config: &Config) -> Result<pkgimport_lp_client::Client, Failure> {
    let credentials = match config.string("launchpad.credentials_file") {
        "" => None,
        path => {
            Some(pkgimport_lp_client::Credentials::load(Path::new(path)).or_exit(Exit::Config)?)
        }
    };
    let settings = pkgimport_lp_client::ClientSettings {
        api_root: config.string("launchpad.api_root").to_owned(),
        page_size: config.int("launchpad.page_size") as u32,
        max_attempts: config.int("launchpad.max_attempts") as u32,
        backoff_base: config.duration("launchpad.backoff_base"),
        backoff_cap: config.duration("launchpad.backoff_cap"),
        retry_after_cap: config.duration("launchpad.retry_after_cap"),
        request_timeout: config.duration("launchpad.request_timeout"),
        consumer_name: "package-importer".to_owned(),
        credentials,
        download_hosts: config.list("launchpad.download_hosts"),
    };
    pkgimport_lp_client::Client::new(settings).or_exit(Exit::Config)
}

/// The importer's settings (import-one, and importctl's verify and reset), from the
/// `[git]`, `[import]` and `[launchpad]` sections. `run_id` is the driver's run that
/// started this process, if any.
pub fn import(config: &Config, run_id: Option<i64>) -> ImportSettings {
    let max = config.int("import.max_unpacked_mib") as u64 * 1024 * 1024;
    let standard = pkgimport_unpack::Limits::standard();
    ImportSettings {
        state_dir: config.state_dir(),
        distributions: config.list("launchpad.distributions"),
        remote_template: config.string("git.remote").to_owned(),
        committer_name: config.string("git.committer_name").to_owned(),
        committer_email: config.string("git.committer_email").to_owned(),
        git: pkgimport_git::GitOptions {
            network_timeout: config.duration("git.network_timeout"),
            ..pkgimport_git::GitOptions::default()
        },
        limits: pkgimport_unpack::Limits {
            max_total_bytes: max,
            max_file_bytes: standard.max_file_bytes.min(max),
            ..standard
        },
        applied: config.bool("import.applied"),
        run_id,
    }
}

/// poll-uploads' settings; `start` comes from its `--since` and `--initial` flags.
pub fn poll(config: &Config, start: Start) -> PollSettings {
    PollSettings {
        distributions: config.list("launchpad.distributions"),
        all_series: config.string("launchpad.series") == "all",
        skew: config.duration("poll.skew"),
        start,
        batch: 500,
        breaker: breaker(config),
    }
}

/// `importctl reconcile`'s settings: the partitions the poller polls (`[launchpad]`),
/// narrowed to `distribution` and `series` when given, and the poller's skew window. A
/// distribution that `launchpad.distributions` does not name is a usage error.
pub fn reconcile(
    config: &Config,
    distribution: Option<&str>,
    series: Option<&str>,
) -> Result<ReconcileSettings, Failure> {
    let configured = config.list("launchpad.distributions");
    let distributions = match distribution {
        None => configured,
        Some(d) if configured.iter().any(|c| c == d) => vec![d.to_owned()],
        Some(d) => {
            return Err(Failure::new(
                Exit::Usage,
                anyhow!(
                    "distribution {d} is not polled (launchpad.distributions: {})",
                    configured.join(", ")
                ),
            ));
        }
    };
    Ok(ReconcileSettings {
        distributions,
        series: series.map(str::to_owned),
        all_series: config.string("launchpad.series") == "all",
        skew: config.duration("poll.skew"),
    })
}

/// `launchpad.distributions`: every distribution the poller polls.
pub fn polled_distributions(config: &Config) -> Vec<String> {
    config.list("launchpad.distributions")
}

/// retry-failures' settings, from the `[retry]` section.
pub fn retry(config: &Config) -> RetrySettings {
    RetrySettings {
        cooldown_base: config.duration("retry.cooldown_base"),
        cooldown_cap: config.duration("retry.cooldown_cap"),
        jitter: config.float("retry.jitter"),
        max_consecutive: config.int("retry.max_consecutive") as u32,
    }
}

/// importer-web's settings, from the `[web]` section; the agent check goes `down` and
/// `drain` at the critical thresholds of `importctl check` for the driver's heartbeat and
/// the last good poll. An address that is not `IP:PORT` is a configuration error (78).
pub fn web(config: &Config) -> Result<pkgimport_web::WebSettings, Failure> {
    let listen = config.string("web.listen");
    let listen = listen
        .parse()
        .map_err(|e| anyhow!("web.listen {listen:?}: {e} (give IP:PORT, e.g. 127.0.0.1:8080)"))
        .or_exit(Exit::Config)?;
    Ok(pkgimport_web::WebSettings {
        listen,
        state_dir: config.state_dir(),
        public_read: config.boolean("web.public_read"),
        max_in_flight: config.int("web.max_in_flight") as usize,
        max_body_bytes: config.int("web.max_body_bytes") as usize,
        secure_cookie: config.boolean("web.secure_cookie"),
        session_ttl: config.duration("web.session_ttl"),
        db_threads: config.int("web.db_threads") as usize,
        event_poll: config.duration("web.event_poll"),
        agent: pkgimport_web::AgentThresholds {
            driver_age_down: config.duration("check.driver_age_critical"),
            poll_age_drain: config.duration("check.poll_age_critical"),
        },
    })
}

/// How often `importctl report --watch` looks for new events.
pub fn event_poll(config: &Config) -> std::time::Duration {
    config.duration("web.event_poll")
}

/// `importctl check`'s thresholds, from the `[check]` section; `overrides` are its `-w` and
/// `-c` arguments, as (label, warning, critical).
pub fn check(config: &Config, overrides: Vec<Override>) -> CheckSettings {
    let secs = |key: &str| config.duration(key).as_secs_f64();
    let mib = |key: &str| config.int(key) as f64 * 1024.0 * 1024.0;
    CheckSettings {
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
        reconcile_missed: config.int("check.reconcile_missed_warning") as f64,
        overrides,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Env, KEYS};

    /// The key names this file reads: every string literal outside comments and tests that
    /// has the shape of a key (`section.name`), and every literal passed to an accessor or
    /// given as a flag's key (which catches top-level keys such as `state_dir`).
    fn keys_named_here() -> Vec<String> {
        let source = include_str!("settings.rs");
        let code = source
            .split("#[cfg(test)]")
            .next()
            .expect("split yields at least one part");
        let mut names = Vec::new();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or_default();
            let mut rest = line;
            while let Some(open) = rest.find('"') {
                let before = &rest[..open];
                let after = &rest[open + 1..];
                let Some(close) = after.find('"') else { break };
                let literal = &after[..close];
                rest = &after[close + 1..];
                let key_shaped = !literal.is_empty()
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c));
                let argument = [
                    "int(",
                    "boolean(",
                    "float(",
                    "string(",
                    "path(",
                    "duration(",
                    "list(",
                    "secs(",
                    "mib(",
                    "key: ",
                ]
                .iter()
                .any(|call| before.ends_with(call));
                if key_shaped && (literal.contains('.') || argument) {
                    names.push(literal.to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn every_key_named_here_is_in_the_table_and_every_key_is_read() {
        let names = keys_named_here();
        assert!(names.len() >= KEYS.len(), "the scan found only {names:?}");
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !KEYS.iter().any(|k| k.name == n.as_str()))
            .collect();
        assert!(unknown.is_empty(), "keys missing from KEYS: {unknown:?}");
        let unread: Vec<&str> = KEYS
            .iter()
            .map(|k| k.name)
            .filter(|k| !names.iter().any(|n| n == k))
            .collect();
        assert!(unread.is_empty(), "keys that no setting reads: {unread:?}");
    }

    /// Every setting, built from the defaults: a key read here but missing from the table
    /// panics, and a default of the wrong kind fails.
    #[test]
    fn every_setting_builds_from_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "").unwrap();
        // The default import command is looked for beside the running binary, which a unit
        // test does not have; any executable given by path will do.
        let exe = std::env::current_exe().unwrap();
        let flags = [FlagValue::import_command(exe.display().to_string())];
        let c = Config::load(Some(&file), &Env::new(), &flags).unwrap();

        assert_eq!(c.database_url(), None);
        assert_eq!(c.state_dir(), PathBuf::from("/var/lib/package-importer"));

        let d = driver(&c, true).unwrap();
        assert_eq!(d.import_program, exe);
        assert_eq!(d.concurrency, 4);
        assert_eq!(d.drain_timeout, Duration::from_secs(300));
        assert_eq!(d.breaker.trip_consecutive, 5);

        let b = breaker(&c);
        assert_eq!(b.trip_ratio, 0.5);
        assert_eq!(b.probe_lease, Duration::from_secs(70 * 60));

        launchpad_client(&c).unwrap();

        let i = import(&c, Some(7));
        assert_eq!(i.distributions, ["ubuntu", "debian"]);
        assert_eq!(i.limits.max_total_bytes, 4096 * 1024 * 1024);
        assert_eq!(i.run_id, Some(7));
        assert!(i.applied, "patches-applied chains by default");

        let p = poll(&c, Start::Now);
        assert_eq!(p.skew, Duration::from_secs(600));
        assert_eq!(p.batch, 500);

        let r = retry(&c);
        assert_eq!(r.jitter, 0.2);
        assert_eq!(r.max_consecutive, 5);

        let w = web(&c).unwrap();
        assert_eq!(w.listen.to_string(), "127.0.0.1:8080");
        assert!(w.public_read && !w.secure_cookie);
        assert_eq!(w.max_in_flight, 64);
        assert_eq!(w.agent.driver_age_down, Duration::from_secs(300));

        let k = check(&c, Vec::new());
        assert_eq!(
            k.failure_baseline, None,
            "-1 takes the median of the snapshots"
        );
        assert_eq!(k.failure_floor, 10);
        assert_eq!(k.oldest_age, (3600.0, 6.0 * 3600.0));
        assert_eq!(
            k.wal_bytes,
            (64.0 * 1024.0 * 1024.0, 256.0 * 1024.0 * 1024.0)
        );
    }
}

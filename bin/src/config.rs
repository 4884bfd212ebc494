//! The configuration: one table of keys, four layers, and the typed settings built from them.
//!
//! Every key is declared once in [`KEYS`], with its type, default and documentation. The
//! layers are applied in one function, [`Config::load`], in this order, later ones winning:
//! built-in defaults, the config file (`--config`, `PKGIMPORT_CONFIG`, or
//! `/etc/package-importer/config.toml` if it exists), `PKGIMPORT_*` environment variables,
//! then command-line flags. An unknown key in the file is an error that names it. Raw values
//! are validated first and then turned into typed settings, so a bad value fails at start
//! with exit 78, never half-way through a run. `importctl config show` prints each value
//! with the layer it came from; `importctl config example` prints a commented template.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

/// The file read when neither `--config` nor `PKGIMPORT_CONFIG` names one.
pub const SYSTEM_CONFIG: &str = "/etc/package-importer/config.toml";

/// The type of a key's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// An integer within bounds.
    Int {
        min: i64,
        max: i64,
    },
    /// A number within bounds.
    Float {
        min: f64,
        max: f64,
    },
    /// A humantime duration: `30s`, `5m`, `1h 30m`.
    Duration,
    Str,
    Path,
    /// A list of strings; in the environment, comma-separated.
    List,
}

/// One configuration key.
#[derive(Debug)]
pub struct Key {
    /// `section.name`, or `name` for top-level keys.
    pub name: &'static str,
    pub kind: Kind,
    /// The default as TOML text.
    pub default: &'static str,
    pub doc: &'static str,
    /// Never printed: shown as `<redacted>`.
    pub secret: bool,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, doc: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        doc,
        secret: false,
    }
}

/// Every configuration key. docs/config.md documents the same list; a test keeps them in step.
pub const KEYS: &[Key] = &[
    key(
        "state_dir",
        Kind::Path,
        "\"/var/lib/package-importer\"",
        "Directory holding state.db, locks/, logs/, work/, cache/ and remote/.",
    ),
    key(
        "database.url",
        Kind::Str,
        "\"\"",
        "Empty: SQLite at <state_dir>/state.db. postgres://USER@HOST/DB: a PostgreSQL database \
         shared by drivers on many hosts (docs/scaling.md).",
    ),
    key(
        "driver.concurrency",
        Kind::Int { min: 1, max: 256 },
        "4",
        "How many imports run at once.",
    ),
    key(
        "driver.import_command",
        Kind::Str,
        "\"import-one\"",
        "The import command; the package name is appended as its last argument. Split on \
         whitespace. A bare name is looked up beside the driver binary first, then on PATH.",
    ),
    key(
        "driver.run_timeout",
        Kind::Duration,
        "\"1h\"",
        "Kill an import (its whole process group) after this long.",
    ),
    key(
        "driver.drain_timeout",
        Kind::Duration,
        "\"5m\"",
        "On SIGTERM or SIGINT, wait this long for running imports before killing them.",
    ),
    key(
        "driver.poll_interval",
        Kind::Duration,
        "\"1s\"",
        "How often an idle driver looks for work.",
    ),
    key(
        "driver.heartbeat_interval",
        Kind::Duration,
        "\"5s\"",
        "How often the driver records that it is alive.",
    ),
    key(
        "driver.locked_retry_delay",
        Kind::Duration,
        "\"30s\"",
        "After an import exits 73 (package locked), wait this long before claiming the job again.",
    ),
    key(
        "driver.unavailable_retry_delay",
        Kind::Duration,
        "\"1m\"",
        "After an import exits 69 (upstream unavailable), wait this long before claiming the job again.",
    ),
    key(
        "launchpad.api_root",
        Kind::Str,
        "\"https://api.launchpad.net/devel/\"",
        "Launchpad's API root, version included, ending in '/'.",
    ),
    key(
        "launchpad.distributions",
        Kind::List,
        "[\"ubuntu\", \"debian\"]",
        "The distributions to follow.",
    ),
    key(
        "launchpad.credentials_file",
        Kind::Str,
        "\"\"",
        "OAuth credentials file (launchpadlib format, mode 0600); empty for anonymous access.",
    ),
    key(
        "launchpad.page_size",
        Kind::Int { min: 1, max: 300 },
        "300",
        "Entries per page (ws.size); Launchpad allows at most 300.",
    ),
    key(
        "launchpad.max_attempts",
        Kind::Int { min: 1, max: 50 },
        "6",
        "Attempts per request, the first included, before Launchpad counts as unavailable.",
    ),
    key(
        "launchpad.backoff_base",
        Kind::Duration,
        "\"1s\"",
        "Backoff ceiling before the first retry (full jitter).",
    ),
    key(
        "launchpad.backoff_cap",
        Kind::Duration,
        "\"30s\"",
        "Largest backoff ceiling.",
    ),
    key(
        "launchpad.retry_after_cap",
        Kind::Duration,
        "\"2m\"",
        "Longest Retry-After honoured.",
    ),
    key(
        "launchpad.request_timeout",
        Kind::Duration,
        "\"60s\"",
        "Timeout of one request.",
    ),
    key(
        "launchpad.download_hosts",
        Kind::List,
        "[\"launchpad.net\", \"launchpadlibrarian.net\"]",
        "Hosts (host or host:port; no port means the scheme's default) that source files may be \
         downloaded from, every redirect included, besides the api_root's host. Only http(s) to \
         these is fetched: a hostile file URL cannot reach other hosts or local files.",
    ),
    key(
        "git.remote",
        Kind::Str,
        "\"file://{state_dir}/remote/{package}.git\"",
        "Where each package is pushed; {package} and {state_dir} are filled in. A missing file:// \
         remote is created as a bare repository on first push; ssh and https go through git.",
    ),
    key(
        "git.committer_name",
        Kind::Str,
        "\"package-importer\"",
        "Committer name of every import commit.",
    ),
    key(
        "git.committer_email",
        Kind::Str,
        "\"package-importer@localhost\"",
        "Committer email of every import commit.",
    ),
    key(
        "git.network_timeout",
        Kind::Duration,
        "\"5m\"",
        "Deadline of one push or ls-remote.",
    ),
    key(
        "import.max_unpacked_mib",
        Kind::Int {
            min: 1,
            max: 1_048_576,
        },
        "4096",
        "Refuse a source package that unpacks to more than this many MiB (decompression bombs).",
    ),
    key(
        "retry.cooldown_base",
        Kind::Duration,
        "\"5m\"",
        "retry-failures: the cooldown before the first automatic retry; it doubles per attempt.",
    ),
    key(
        "retry.cooldown_cap",
        Kind::Duration,
        "\"6h\"",
        "retry-failures: the longest cooldown.",
    ),
    key(
        "retry.jitter",
        Kind::Float { min: 0.0, max: 0.9 },
        "0.2",
        "retry-failures: spread each cooldown by up to this fraction either way.",
    ),
    key(
        "retry.max_consecutive",
        Kind::Int { min: 1, max: 1000 },
        "5",
        "retry-failures: after this many failures in a row with one signature, stop retrying; \
         the package needs attention.",
    ),
    key(
        "breaker.open_duration",
        Kind::Duration,
        "\"60s\"",
        "How long the breaker stays open the first time.",
    ),
    key(
        "breaker.max_open_duration",
        Kind::Duration,
        "\"15m\"",
        "The open duration doubles with each re-opening, up to this.",
    ),
    key(
        "breaker.trip_consecutive",
        Kind::Int {
            min: 1,
            max: 10_000,
        },
        "5",
        "Open after this many upstream-unavailable outcomes in a row.",
    ),
    key(
        "breaker.trip_ratio",
        Kind::Float { min: 0.0, max: 1.0 },
        "0.5",
        "Or open when at least this share of the outcomes in the window were unavailable...",
    ),
    key(
        "breaker.trip_min_outcomes",
        Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        "20",
        "...provided the window holds at least this many outcomes.",
    ),
    key(
        "breaker.trip_window",
        Kind::Duration,
        "\"60s\"",
        "The window of the trip ratio.",
    ),
    key(
        "breaker.probe_lease",
        Kind::Duration,
        "\"70m\"",
        "How long a probe's holder keeps it before another driver may probe (longer than the run timeout).",
    ),
    key(
        "check.failure_baseline",
        Kind::Int {
            min: -1,
            max: 100_000_000,
        },
        "-1",
        "The usual number of failed packages; -1 takes the median of the last 7 daily snapshots.",
    ),
    key(
        "check.failure_floor",
        Kind::Int {
            min: 0,
            max: 100_000_000,
        },
        "10",
        "The failure baseline is never taken below this.",
    ),
    key(
        "check.oldest_age_warning",
        Kind::Duration,
        "\"1h\"",
        "Warn when the oldest claimable job is older.",
    ),
    key(
        "check.oldest_age_critical",
        Kind::Duration,
        "\"6h\"",
        "Critical when the oldest claimable job is older.",
    ),
    key(
        "check.breaker_open_warning",
        Kind::Duration,
        "\"15m\"",
        "Warn when the breaker has been open longer.",
    ),
    key(
        "check.breaker_open_critical",
        Kind::Duration,
        "\"1h\"",
        "Critical when the breaker has been open longer.",
    ),
    key(
        "check.driver_age_warning",
        Kind::Duration,
        "\"1m\"",
        "Warn when the driver's heartbeat is older.",
    ),
    key(
        "check.driver_age_critical",
        Kind::Duration,
        "\"5m\"",
        "Critical when the driver's heartbeat is older.",
    ),
    key(
        "check.poll_age_warning",
        Kind::Duration,
        "\"30m\"",
        "Warn when the last successful poll is older.",
    ),
    key(
        "check.poll_age_critical",
        Kind::Duration,
        "\"2h\"",
        "Critical when the last successful poll is older.",
    ),
    key(
        "check.wal_warning_mib",
        Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        "64",
        "Warn when the SQLite WAL is larger (MiB).",
    ),
    key(
        "check.wal_critical_mib",
        Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        "256",
        "Critical when the SQLite WAL is larger (MiB).",
    ),
    key(
        "poll.skew",
        Kind::Duration,
        "\"10m\"",
        "Ask for publications since each watermark minus this, in case Launchpad shows one late.",
    ),
];

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => write!(f, "default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

/// A flag given on the command line that overrides a key.
#[derive(Clone, Debug)]
pub struct FlagValue {
    pub key: &'static str,
    pub flag: &'static str,
    pub value: String,
}

/// The environment, read once by the binary and handed in, so loading stays testable.
pub type Env = BTreeMap<String, String>;

/// Reads the `PKGIMPORT_*` variables of this process.
pub fn process_env() -> Env {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the environment"
    )]
    std::env::vars()
        .filter(|(k, _)| k.starts_with("PKGIMPORT_"))
        .collect()
}

/// Environment variables with a meaning of their own, not configuration keys.
const NON_KEY_VARS: &[&str] = &["PKGIMPORT_CONFIG", "PKGIMPORT_RUN_ID", "PKGIMPORT_FAULT"];

/// The merged, validated configuration.
#[derive(Clone)]
pub struct Config {
    values: BTreeMap<&'static str, (toml::Value, Source)>,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// `PKGIMPORT_FAULT`: a named point at which to abort, for recovery drills.
    pub fault: Option<String>,
    /// `PKGIMPORT_RUN_ID`: the driver's run that started this process.
    pub run_id: Option<i64>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.show().into_iter().map(|(k, v, _)| (k, v)))
            .finish()
    }
}

impl Config {
    /// Applies the four layers. `config_flag` is `--config`; `flags` are the other flags
    /// that set keys.
    pub fn load(
        config_flag: Option<&Path>,
        env: &Env,
        flags: &[FlagValue],
    ) -> anyhow::Result<Config> {
        let mut values = BTreeMap::new();
        for k in KEYS {
            let v = parse_toml_value(k.default).expect("defaults are valid TOML");
            values.insert(k.name, (v, Source::Default));
        }
        let file = match (config_flag, env.get("PKGIMPORT_CONFIG")) {
            (Some(p), _) => Some(p.to_owned()),
            (None, Some(p)) => Some(PathBuf::from(p)),
            (None, None) => Path::new(SYSTEM_CONFIG)
                .exists()
                .then(|| PathBuf::from(SYSTEM_CONFIG)),
        };
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            let table: toml::Table = text
                .parse()
                .with_context(|| format!("parsing config file {}", path.display()))?;
            for (name, value) in flatten(&table) {
                let k = find_key(&name)
                    .with_context(|| format!("in config file {}", path.display()))?;
                let value = check(k, value)
                    .with_context(|| format!("config file {}: key {name}", path.display()))?;
                values.insert(k.name, (value, Source::File(path.clone())));
            }
        }
        for (var, raw) in env {
            if NON_KEY_VARS.contains(&var.as_str()) {
                continue;
            }
            let Some(k) = KEYS.iter().find(|k| env_name(k.name) == *var) else {
                log::warn!("ignoring unknown environment variable {var}");
                continue;
            };
            let value = from_text(k, raw).with_context(|| format!("environment variable {var}"))?;
            values.insert(k.name, (value, Source::Env(var.clone())));
        }
        for f in flags {
            let k = find_key(f.key)?;
            let value = from_text(k, &f.value).with_context(|| format!("flag {}", f.flag))?;
            values.insert(k.name, (value, Source::Flag(f.flag.to_owned())));
        }
        let fault = env
            .get("PKGIMPORT_FAULT")
            .filter(|f| !f.is_empty())
            .cloned();
        let run_id = env.get("PKGIMPORT_RUN_ID").and_then(|r| r.parse().ok());
        Ok(Config {
            values,
            file,
            fault,
            run_id,
        })
    }

    fn get(&self, name: &str) -> &toml::Value {
        &self
            .values
            .get(name)
            .unwrap_or_else(|| panic!("unknown config key {name}"))
            .0
    }

    pub fn float(&self, name: &str) -> f64 {
        let v = self.get(name);
        v.as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .expect("checked when loaded")
    }

    pub fn int(&self, name: &str) -> i64 {
        self.get(name).as_integer().expect("checked when loaded")
    }

    pub fn string(&self, name: &str) -> &str {
        self.get(name).as_str().expect("checked when loaded")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(self.string(name))
    }

    pub fn duration(&self, name: &str) -> Duration {
        humantime::parse_duration(self.string(name)).expect("checked when loaded")
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        let items = self.get(name).as_array().expect("checked when loaded");
        items
            .iter()
            .map(|v| v.as_str().expect("checked when loaded").to_owned())
            .collect()
    }

    /// `database.url`, or `None` for SQLite in the state directory.
    pub fn database_url(&self) -> Option<&str> {
        Some(self.string("database.url")).filter(|u| !u.is_empty())
    }

    /// The state directory, made absolute so that children and log lines agree on it.
    pub fn state_dir(&self) -> PathBuf {
        let dir = self.path("state_dir");
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// Every key with its value as TOML text (secrets redacted, and the user info of any
    /// URL in a value, such as a password in `git.remote`) and its source.
    pub fn show(&self) -> Vec<(&'static str, String, &Source)> {
        KEYS.iter()
            .map(|k| {
                let (v, src) = &self.values[k.name];
                let text = if k.secret {
                    "\"<redacted>\"".to_owned()
                } else {
                    pkgimport_core::redact::redact_userinfo(&v.to_string())
                };
                (k.name, text, src)
            })
            .collect()
    }
}

/// The environment variable for a key: `driver.concurrency` → `PKGIMPORT_DRIVER_CONCURRENCY`.
pub fn env_name(key: &str) -> String {
    format!("PKGIMPORT_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// A commented TOML template with every key at its default.
pub fn example() -> String {
    let mut out = String::from(
        "# package-importer configuration. Every key is shown at its default.\n\
         # Precedence: defaults < this file < PKGIMPORT_* environment < command-line flags.\n",
    );
    let mut section = "";
    for k in KEYS {
        let (sec, name) = k.name.split_once('.').unwrap_or(("", k.name));
        if sec != section {
            out.push_str(&format!("\n[{sec}]\n"));
            section = sec;
        }
        out.push_str(&format!(
            "# {} (env {})\n#{name} = {}\n",
            k.doc,
            env_name(k.name),
            k.default
        ));
    }
    out
}

fn find_key(name: &str) -> anyhow::Result<&'static Key> {
    match KEYS.iter().find(|k| k.name == name) {
        Some(k) => Ok(k),
        None => bail!("unknown config key {name}"),
    }
}

/// `[driver] concurrency = 4` → `("driver.concurrency", 4)`. Tables nest one level only.
fn flatten(table: &toml::Table) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (name, value) in table {
        match value {
            toml::Value::Table(inner) => {
                for (sub, v) in inner {
                    out.push((format!("{name}.{sub}"), v.clone()));
                }
            }
            v => out.push((name.clone(), v.clone())),
        }
    }
    out
}

fn parse_toml_value(text: &str) -> anyhow::Result<toml::Value> {
    let table: toml::Table = format!("v = {text}").parse()?;
    Ok(table["v"].clone())
}

/// Reads a value given as text (environment or flag) by its key's kind.
fn from_text(k: &Key, raw: &str) -> anyhow::Result<toml::Value> {
    let value = match k.kind {
        Kind::Int { .. } => toml::Value::Integer(
            raw.trim()
                .parse()
                .with_context(|| format!("{raw:?} is not an integer"))?,
        ),
        Kind::Float { .. } => toml::Value::Float(
            raw.trim()
                .parse()
                .with_context(|| format!("{raw:?} is not a number"))?,
        ),
        Kind::List => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        Kind::Duration | Kind::Str | Kind::Path => toml::Value::String(raw.to_owned()),
    };
    check(k, value)
}

/// Validates a value against its key's kind.
fn check(k: &Key, value: toml::Value) -> anyhow::Result<toml::Value> {
    match (k.kind, &value) {
        (Kind::Int { min, max }, toml::Value::Integer(n)) => {
            if *n < min || *n > max {
                bail!("{n} is out of range {min}..={max}");
            }
        }
        (Kind::Float { min, max }, toml::Value::Float(_) | toml::Value::Integer(_)) => {
            let n = value
                .as_float()
                .or_else(|| value.as_integer().map(|i| i as f64))
                .unwrap_or(f64::NAN);
            if !(min..=max).contains(&n) {
                bail!("{n} is out of range {min}..={max}");
            }
        }
        (Kind::Duration, toml::Value::String(s)) => {
            humantime::parse_duration(s)
                .with_context(|| format!("{s:?} is not a duration (e.g. 30s, 5m, 1h)"))?;
        }
        (Kind::Str, toml::Value::String(_)) => {}
        (Kind::Path, toml::Value::String(s)) => {
            if s.is_empty() {
                bail!("empty path");
            }
        }
        (Kind::List, toml::Value::Array(items)) => {
            if !items.iter().all(toml::Value::is_str) {
                bail!("expected a list of strings");
            }
        }
        (kind, v) => bail!("expected {}, found {}", kind_name(kind), v.type_str()),
    }
    Ok(value)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Int { .. } => "an integer",
        Kind::Float { .. } => "a number",
        Kind::Duration => "a duration string",
        Kind::Str | Kind::Path => "a string",
        Kind::List => "a list of strings",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(key: &'static str, value: &str) -> FlagValue {
        FlagValue {
            key,
            flag: "--x",
            value: value.to_owned(),
        }
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("config.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn precedence_defaults_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "[driver]\nconcurrency = 2\nrun_timeout = \"10m\"\npoll_interval = \"2s\"\n",
        );
        let mut env = Env::new();
        env.insert("PKGIMPORT_DRIVER_CONCURRENCY".into(), "3".into());
        env.insert("PKGIMPORT_DRIVER_POLL_INTERVAL".into(), "3s".into());
        let c = Config::load(Some(&file), &env, &[flag("driver.poll_interval", "4s")]).unwrap();
        assert_eq!(c.int("driver.concurrency"), 3, "env beats file");
        assert_eq!(
            c.duration("driver.run_timeout"),
            Duration::from_secs(600),
            "file beats default"
        );
        assert_eq!(
            c.duration("driver.poll_interval"),
            Duration::from_secs(4),
            "flag beats env"
        );
        assert_eq!(
            c.duration("driver.drain_timeout"),
            Duration::from_secs(300),
            "default"
        );
        let sources: BTreeMap<_, _> = c
            .show()
            .into_iter()
            .map(|(k, _, s)| (k, s.clone()))
            .collect();
        assert_eq!(
            sources["driver.concurrency"],
            Source::Env("PKGIMPORT_DRIVER_CONCURRENCY".into())
        );
        assert_eq!(sources["driver.run_timeout"], Source::File(file.clone()));
        assert_eq!(sources["driver.drain_timeout"], Source::Default);
        assert_eq!(sources["driver.poll_interval"], Source::Flag("--x".into()));
    }

    #[test]
    fn unknown_and_bad_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "[driver]\nconcurency = 2\n");
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Env::new(), &[]).unwrap_err()
        );
        assert!(
            err.contains("unknown config key driver.concurency"),
            "{err}"
        );

        let file = write(dir.path(), "[driver]\nrun_timeout = \"soon\"\n");
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Env::new(), &[]).unwrap_err()
        );
        assert!(
            err.contains("driver.run_timeout") && err.contains("not a duration"),
            "{err}"
        );

        let file = write(dir.path(), "[driver]\nconcurrency = 0\n");
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Env::new(), &[]).unwrap_err()
        );
        assert!(err.contains("out of range"), "{err}");

        let err =
            Config::load(Some(&dir.path().join("missing.toml")), &Env::new(), &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("reading config file"),
            "{err:#}"
        );

        let mut env = Env::new();
        env.insert("PKGIMPORT_DRIVER_CONCURRENCY".into(), "many".into());
        let err = format!("{:#}", Config::load(None, &env, &[]).unwrap_err());
        assert!(err.contains("PKGIMPORT_DRIVER_CONCURRENCY"), "{err}");
    }

    #[test]
    fn example_parses_and_lists_every_key() {
        let text = example();
        for k in KEYS {
            let (_, name) = k.name.split_once('.').unwrap_or(("", k.name));
            assert!(
                text.contains(&format!("#{name} = {}", k.default)),
                "{}",
                k.name
            );
        }
        // Uncommented, the template is a valid config that changes nothing.
        let uncommented: String = text
            .lines()
            .filter(|l| !l.starts_with("# "))
            .map(|l| l.strip_prefix('#').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), &uncommented);
        let c = Config::load(Some(&file), &Env::new(), &[]).unwrap();
        assert!(
            c.show()
                .iter()
                .all(|(_, _, s)| matches!(s, Source::File(_)))
        );
    }
}

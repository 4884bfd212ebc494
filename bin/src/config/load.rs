//! The four layers of the configuration and the merged [`Config`]: built-in defaults <
//! the config file < `PKGIMPORT_*` environment variables < command-line flags, applied in one
//! function, [`Config::load`]. The environment is read here, once ([`process_env`]), and
//! handed in, so that loading stays testable; loading never writes a file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::keys::{KEYS, Key, Kind};

/// The file read when neither `--config` nor `PKGIMPORT_CONFIG` names one.
pub const SYSTEM_CONFIG: &str = "/etc/package-importer/config.toml";

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

/// A flag given on the command line that overrides a key. Made by the constructors in
/// [`settings`](super::settings), which name the keys.
#[derive(Clone, Debug)]
pub struct FlagValue {
    pub(super) key: &'static str,
    pub(super) flag: &'static str,
    pub(super) value: String,
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

    pub(super) fn float(&self, name: &str) -> f64 {
        let v = self.get(name);
        v.as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .expect("checked when loaded")
    }

    pub(super) fn boolean(&self, name: &str) -> bool {
        self.get(name).as_bool().expect("checked when loaded")
    }

    pub(super) fn int(&self, name: &str) -> i64 {
        self.get(name).as_integer().expect("checked when loaded")
    }

    pub(super) fn string(&self, name: &str) -> &str {
        self.get(name).as_str().expect("checked when loaded")
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(self.string(name))
    }

    pub(super) fn duration(&self, name: &str) -> Duration {
        humantime::parse_duration(self.string(name)).expect("checked when loaded")
    }

    pub(super) fn bool(&self, name: &str) -> bool {
        self.get(name).as_bool().expect("checked when loaded")
    }

    pub(super) fn list(&self, name: &str) -> Vec<String> {
        let items = self.get(name).as_array().expect("checked when loaded");
        items
            .iter()
            .map(|v| v.as_str().expect("checked when loaded").to_owned())
            .collect()
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
        Kind::Bool => toml::Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => bail!("{raw:?} is not a boolean (true or false)"),
        }),
        Kind::List => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        Kind::Duration | Kind::Str | Kind::Choice(_) | Kind::Path => {
            toml::Value::String(raw.to_owned())
        }
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
        (Kind::Str, toml::Value::String(_)) | (Kind::Bool, toml::Value::Boolean(_)) => {}
        (Kind::Choice(words), toml::Value::String(s)) => {
            if !words.contains(&s.as_str()) {
                bail!("{s:?} is not one of {}", words.join(", "));
            }
        }
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
        Kind::Str | Kind::Choice(_) | Kind::Path => "a string",
        Kind::List => "a list of strings",
        Kind::Bool => "true or false",
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
    fn booleans_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Config::load(None, &Env::new(), &[])
                .unwrap()
                .bool("import.applied")
        );
        let file = write(dir.path(), "[import]\napplied = false\n");
        let c = Config::load(Some(&file), &Env::new(), &[]).unwrap();
        assert!(!c.bool("import.applied"));
        let mut env = Env::new();
        env.insert("PKGIMPORT_IMPORT_APPLIED".into(), "true".into());
        let c = Config::load(Some(&file), &env, &[]).unwrap();
        assert!(c.bool("import.applied"), "env beats file");
        let file = write(dir.path(), "[import]\napplied = \"no\"\n");
        let err = format!(
            "{:#}",
            Config::load(Some(&file), &Env::new(), &[]).unwrap_err()
        );
        assert!(err.contains("true or false"), "{err}");
        env.insert("PKGIMPORT_IMPORT_APPLIED".into(), "yes".into());
        assert!(
            Config::load(None, &env, &[])
                .unwrap()
                .bool("import.applied")
        );
        env.insert("PKGIMPORT_IMPORT_APPLIED".into(), "maybe".into());
        let err = format!("{:#}", Config::load(None, &env, &[]).unwrap_err());
        assert!(err.contains("PKGIMPORT_IMPORT_APPLIED"), "{err}");
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

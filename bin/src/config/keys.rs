//! The key table: every configuration key, declared once with its type, default and
//! documentation.
//!
//! Nothing else lists keys. Loading (`load.rs`) checks values against these kinds, and the
//! typed settings (`settings.rs`) are the only code that reads a key by name; a test there
//! checks that every name it reads is in this table.

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
    /// One of a few words.
    Choice(&'static [&'static str]),
    Path,
    /// A list of strings; in the environment, comma-separated.
    List,
    /// `true` or `false`; in the environment also `1`/`0`, `yes`/`no`.
    Bool,
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
        "launchpad.series",
        Kind::Choice(&["current", "all"]),
        "\"current\"",
        "Which series poll-uploads asks about: \"current\" for every series that is not Obsolete, \
         \"all\" for every series Launchpad lists.",
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
        "import.applied",
        Kind::Bool,
        "true",
        "Write each version's quilt patches as commits on top of its import, and keep the \
         importer/applied/ branches and applied/ tags.",
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
        "check.reconcile_missed_warning",
        Kind::Int {
            min: 0,
            max: 100_000_000,
        },
        "0",
        "Warn when the last reconcile found more publications than this that polling missed.",
    ),
    key(
        "web.listen",
        Kind::Str,
        "\"127.0.0.1:8080\"",
        "importer-web: the address and port to listen on. Put a TLS-terminating proxy or load \
         balancer in front of it for anything but localhost.",
    ),
    key(
        "web.public_read",
        Kind::Bool,
        "true",
        "importer-web: whether the pages and the read-only API need no token. false: every \
         request needs a token (viewer or higher).",
    ),
    key(
        "web.max_in_flight",
        Kind::Int {
            min: 1,
            max: 100_000,
        },
        "64",
        "importer-web: requests handled at once; more are refused at once with 503 and \
         Retry-After (and /healthz says busy), rather than queued.",
    ),
    key(
        "web.max_body_bytes",
        Kind::Int {
            min: 256,
            max: 16_777_216,
        },
        "16384",
        "importer-web: the largest request body accepted; larger ones get 413.",
    ),
    key(
        "web.secure_cookie",
        Kind::Bool,
        "false",
        "importer-web: mark the session cookie Secure; set it when browsers reach the service \
         over HTTPS.",
    ),
    key(
        "web.session_ttl",
        Kind::Duration,
        "\"12h\"",
        "importer-web: how long a browser stays logged in.",
    ),
    key(
        "web.db_threads",
        Kind::Int { min: 1, max: 64 },
        "2",
        "importer-web: threads, each with its own database connection, that read the state \
         database and carry out actions.",
    ),
    key(
        "web.event_poll",
        Kind::Duration,
        "\"200ms\"",
        "importer-web and importctl report --watch: how often to look for new events when \
         nothing woke them (on PostgreSQL a NOTIFY wakes them at once).",
    ),
    key(
        "poll.skew",
        Kind::Duration,
        "\"10m\"",
        "Ask for publications since each watermark minus this, in case Launchpad shows one late.",
    ),
];

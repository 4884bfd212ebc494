//! Versioned schema migrations, applied by every binary when it opens the database.
//!
//! `PRAGMA user_version` holds the number of migrations applied. Each migration runs in its
//! own `BEGIN IMMEDIATE` transaction that re-reads the version first, so two processes that
//! start at once on a fresh state directory cannot apply one migration twice. Migrations are
//! append-only: never edit one that has shipped, add a new one.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the queue, runs, failures, settings and heartbeats.
    r#"
    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        package     TEXT    NOT NULL,
        priority    INTEGER NOT NULL,
        state       TEXT    NOT NULL CHECK (state IN ('queued', 'running')),
        enqueued_at INTEGER NOT NULL,           -- ms since the epoch, first enqueue
        not_before  INTEGER NOT NULL DEFAULT 0, -- ms; a re-queued job waits until then
        attempts    INTEGER NOT NULL DEFAULT 0,
        run_id      INTEGER                     -- the current run while running
    );
    -- At most one pending and one running job per package.
    CREATE UNIQUE INDEX jobs_one_queued  ON jobs (package) WHERE state = 'queued';
    CREATE UNIQUE INDEX jobs_one_running ON jobs (package) WHERE state = 'running';
    CREATE INDEX jobs_claim ON jobs (state, priority DESC, enqueued_at, id);

    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        job_id      INTEGER NOT NULL,
        package     TEXT    NOT NULL,
        priority    INTEGER NOT NULL,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        driver_pid  INTEGER NOT NULL,
        pid         INTEGER,
        pid_start   INTEGER,   -- the child's start time, to tell a reused pid apart
        exit_code   INTEGER,
        signal      INTEGER,
        outcome     TEXT,      -- NULL while the run is open
        signature   TEXT,
        log_path    TEXT    NOT NULL
    );
    CREATE INDEX runs_package ON runs (package, id);
    CREATE INDEX runs_open ON runs (id) WHERE ended_at IS NULL;

    CREATE TABLE failures (
        package     TEXT    PRIMARY KEY,
        signature   TEXT    NOT NULL,
        tail        TEXT    NOT NULL,
        transient   INTEGER NOT NULL,
        attempts    INTEGER NOT NULL,  -- failures since the last success
        consecutive INTEGER NOT NULL,  -- of those, how many in a row had this signature
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        last_run_id INTEGER,
        retrying    INTEGER NOT NULL DEFAULT 0  -- 1 once re-queued: claims may take it again
    );
    CREATE INDEX failures_signature ON failures (signature);

    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE heartbeats (
        kind       TEXT    NOT NULL,
        host       TEXT    NOT NULL,
        pid        INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        PRIMARY KEY (kind, host, pid)
    );
    "#,
    // 2: poll watermarks, and the audit trail with its three-phase commit.
    r#"
    CREATE TABLE watermarks (
        distro       TEXT    NOT NULL,
        series       TEXT    NOT NULL,
        date_created TEXT    NOT NULL,  -- Launchpad's own time string, never the local clock
        updated_at   INTEGER NOT NULL,
        PRIMARY KEY (distro, series)
    );

    -- The committed audit: what the importer believes the remote holds.
    CREATE TABLE audit_refs (
        package    TEXT    NOT NULL,
        ref        TEXT    NOT NULL,
        oid        TEXT    NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (package, ref)
    );
    -- One commit per version, whichever series published it.
    CREATE TABLE audit_versions (
        package TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_oid TEXT NOT NULL,
        PRIMARY KEY (package, version)
    );
    -- Every publication imported: (distro, series, pocket, version).
    CREATE TABLE audit_publications (
        package      TEXT NOT NULL,
        distro       TEXT NOT NULL,
        series       TEXT NOT NULL,
        pocket       TEXT NOT NULL,
        version      TEXT NOT NULL,
        date_created TEXT NOT NULL,
        PRIMARY KEY (package, distro, series, pocket, version)
    );

    -- Staged: the same rows, about to be published, kept apart until the push succeeds.
    CREATE TABLE staged_refs (
        package TEXT NOT NULL,
        ref     TEXT NOT NULL,
        old_oid TEXT,              -- expected remote value; NULL for a new ref
        new_oid TEXT NOT NULL,
        PRIMARY KEY (package, ref)
    );
    CREATE TABLE staged_versions (
        package TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_oid TEXT NOT NULL,
        PRIMARY KEY (package, version)
    );
    CREATE TABLE staged_publications (
        package      TEXT NOT NULL,
        distro       TEXT NOT NULL,
        series       TEXT NOT NULL,
        pocket       TEXT NOT NULL,
        version      TEXT NOT NULL,
        date_created TEXT NOT NULL,
        PRIMARY KEY (package, distro, series, pocket, version)
    );

    -- The critical mark: present from just before the push until cleanup is done.
    CREATE TABLE audit_marks (
        package   TEXT PRIMARY KEY,
        mark      TEXT NOT NULL CHECK (mark IN ('pushing', 'cleanup')),
        run_id    INTEGER,
        marked_at INTEGER NOT NULL
    );
    "#,
    // 3: the shared circuit breaker, and failures that need a human.
    r#"
    CREATE TABLE breaker (
        id                      INTEGER PRIMARY KEY CHECK (id = 1),
        state                   TEXT    NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
        opened_at               INTEGER,
        open_ms                 INTEGER NOT NULL,
        consecutive_opens       INTEGER NOT NULL,
        consecutive_unavailable INTEGER NOT NULL,
        probe_holder            TEXT,
        probe_lease_until       INTEGER
    );
    INSERT INTO breaker (id, state, open_ms, consecutive_opens, consecutive_unavailable)
        VALUES (1, 'closed', 0, 0, 0);
    -- Recent upstream outcomes, for the trip ratio; pruned to the trip window.
    CREATE TABLE breaker_outcomes (
        id          INTEGER PRIMARY KEY,
        at          INTEGER NOT NULL,
        unavailable INTEGER NOT NULL
    );
    CREATE INDEX breaker_outcomes_at ON breaker_outcomes (at);
    CREATE TABLE breaker_transitions (
        id         INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        from_state TEXT    NOT NULL,
        to_state   TEXT    NOT NULL
    );
    ALTER TABLE failures ADD COLUMN needs_attention INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: what monitoring needs: the newest publication the poller saw per package, counters
    // of short-lived processes, and daily snapshots.
    r#"
    CREATE TABLE poll_seen (
        package      TEXT PRIMARY KEY,
        distro       TEXT NOT NULL,
        series       TEXT NOT NULL,
        pocket       TEXT NOT NULL,
        version      TEXT NOT NULL,
        date_created TEXT NOT NULL,   -- Launchpad's string; compared as a time by callers
        seen_at      INTEGER NOT NULL
    );
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE snapshots (
        day             TEXT PRIMARY KEY,  -- YYYY-MM-DD, UTC
        taken_at        INTEGER NOT NULL,
        failed          INTEGER NOT NULL,
        needs_attention INTEGER NOT NULL,
        queued          INTEGER NOT NULL
    );
    "#,
];

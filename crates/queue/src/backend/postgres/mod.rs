//! The PostgreSQL backend: connecting, migrating, transactions with an application retry,
//! `LISTEN/NOTIFY`, and session advisory locks.
//!
//! The client is `postgres` (rust-postgres): the synchronous face of `tokio-postgres`, kept
//! by the same maintainer for a decade, with no C library to link, and synchronous like
//! rusqlite, so that [`Store`](crate::Store) keeps one shape for both backends.
//!
//! That client drives a little tokio runtime of its own and panics when it is called on a
//! thread that is already inside one, as the driver's is. So a connection ([`Link`]) is used
//! in place until the first call made from inside a runtime; from then on it lives on a
//! thread of its own ([`ConnThread`]) and callers hand it owned requests over a channel. A
//! statement then costs one channel round trip more (two thread switches: microseconds on
//! an idle host, more on a crowded one), and the binaries need no change.
//!
//! Isolation: writes run at SERIALIZABLE and are retried whole on a serialization failure
//! or a deadlock, as SQLite's are retried while busy. Many of them read and then write on
//! what they read (the audit's phase, the breaker's row), and SERIALIZABLE lets them keep
//! the reasoning of SQLite's one-writer-at-a-time without a lock per statement. The queue's
//! hot writes run at REPEATABLE READ instead (`TxKind::QueueWrite` says why that is enough),
//! because SERIALIZABLE's page-level predicate locks made a third of them retry when eight
//! processes finished runs at once. Reads run at REPEATABLE READ, READ ONLY, so a
//! multi-statement read sees one snapshot. Claims run at READ COMMITTED, where `FOR UPDATE
//! SKIP LOCKED` lets claimers pass each other (see `Store::claim`).
//!
//! Connections are plain TCP or Unix sockets (`NoTls`): a URL that demands TLS
//! (`sslmode=require`) is refused when connecting. Put the database on a trusted network,
//! or add a TLS connector here when one is needed.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use pkgimport_core::PackageName;
use postgres::error::SqlState;
use postgres::types::{FromSql, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use crate::backend::sqlite as db;
use crate::schema::PG_MIGRATIONS;
use crate::sql::{Row, SqlError, Tx, TxKind, Value};
use crate::{Backend, Error, Result};

/// The channel that `enqueue` notifies and `wait_for_work` listens on.
pub(crate) const JOBS_CHANNEL: &str = "pkgimport_jobs";

/// Prepared statements kept per connection; the crate has fewer distinct statements.
const STATEMENT_CACHE: usize = 256;

/// How long connecting may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `url` names a PostgreSQL database.
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with its user info (`user:password@`) replaced by `***@` and any `password=`
/// parameter blanked, fit for logs and error messages.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        None => tail.to_owned(),
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// One line describing a client error: the server's message and SQLSTATE, or the client's
/// own error and its cause. (The server's own rendering spans several lines.)
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Whether trying again later may succeed: the connection failed or was lost, or the
/// server was shutting down or full.
pub(crate) fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                ]
                .contains(code)
        }
        // No answer from the server at all: connecting, IO, a timeout.
        None => {
            let mut cause = e.source();
            while let Some(c) = cause {
                if c.is::<std::io::Error>() {
                    return true;
                }
                cause = c.source();
            }
            // The client's own connect timeout has no cause to look at, only its words.
            e.to_string().starts_with("timeout")
        }
    }
}

/// What a [`ConnThread`] is asked to do. Everything is owned: the thread outlives borrows.
enum Request {
    /// Apply pending migrations; answers the version found before.
    Migrate,
    Batch(String),
    Prepare(String),
    Execute(Statement, Vec<Value>),
    Query(Statement, Vec<Value>),
    /// A one-off query, not worth a prepared statement.
    QueryOnce(String, Vec<Value>),
    /// Wait up to this long for a notification.
    Wait(Duration),
}

enum Reply {
    Done,
    Version(i64),
    Statement(Statement),
    Count(u64),
    Rows(Vec<Row>),
    Woken(bool),
}

/// One connection, owned by a thread of its own that serves requests one at a time (see the
/// module's documentation for why). Dropping it closes the connection on that thread.
struct ConnThread {
    requests: Option<mpsc::Sender<Request>>,
    /// Each reply, and whether the connection was closed after it.
    replies: mpsc::Receiver<(Result<Reply, postgres::Error>, bool)>,
    thread: Option<JoinHandle<()>>,
    /// The connection is gone: lost, or its thread stopped.
    closed: bool,
}

/// Opens a connection: the one place that does (see `clippy.toml`).
fn connect(config: &postgres::Config) -> Result<Client, postgres::Error> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that opens a PostgreSQL state database"
    )]
    config.connect(NoTls)
}

impl ConnThread {
    /// Connects on a new thread.
    fn start(config: &postgres::Config) -> Result<ConnThread, SqlError> {
        let config = config.clone();
        ConnThread::spawn(move || connect(&config))
    }

    /// Moves a connection onto a new thread.
    fn adopt(client: Client) -> Result<ConnThread, SqlError> {
        ConnThread::spawn(move || Ok(client))
    }

    fn spawn(
        open: impl FnOnce() -> Result<Client, postgres::Error> + Send + 'static,
    ) -> Result<ConnThread, SqlError> {
        let (requests, inbox) = mpsc::channel::<Request>();
        let (outbox, replies) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pkgimport-pg".to_owned())
            .spawn(move || {
                let mut client = match open() {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = outbox.send((Err(e), true));
                        return;
                    }
                };
                let _ = outbox.send((Ok(Reply::Done), client.is_closed()));
                for request in inbox {
                    let reply = serve(&mut client, request);
                    if outbox.send((reply, client.is_closed())).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| SqlError::Invalid(format!("starting a database thread: {e}")))?;
        let mut conn = ConnThread {
            requests: Some(requests),
            replies,
            thread: Some(thread),
            closed: false,
        };
        conn.reply()?;
        Ok(conn)
    }

    fn call(&mut self, request: Request) -> Result<Reply, SqlError> {
        let sent = self.requests.as_ref().map(|r| r.send(request));
        if !matches!(sent, Some(Ok(()))) {
            self.closed = true;
            return Err(thread_gone());
        }
        self.reply()
    }

    fn reply(&mut self) -> Result<Reply, SqlError> {
        match self.replies.recv() {
            Ok((reply, closed)) => {
                self.closed = closed;
                Ok(reply?)
            }
            Err(_) => {
                self.closed = true;
                Err(thread_gone())
            }
        }
    }
}

impl Drop for ConnThread {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; the client closes over there.
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether this thread is inside a tokio runtime, where the client must not block.
fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// One connection: used in place, or, once a call came from inside a tokio runtime, through
/// a [`ConnThread`]. Exactly one of the two is set.
struct Link {
    direct: Option<Client>,
    thread: Option<ConnThread>,
}

impl Link {
    fn connect(config: &postgres::Config) -> Result<Link, SqlError> {
        if in_runtime() {
            return Ok(Link {
                direct: None,
                thread: Some(ConnThread::start(config)?),
            });
        }
        Ok(Link {
            direct: Some(connect(config)?),
            thread: None,
        })
    }

    /// Whether the connection is gone.
    fn closed(&self) -> bool {
        match (&self.direct, &self.thread) {
            (Some(c), _) => c.is_closed(),
            (None, Some(t)) => t.closed,
            (None, None) => true,
        }
    }

    fn call(&mut self, request: Request) -> Result<Reply, SqlError> {
        if in_runtime() && self.direct.is_some() {
            let client = self.direct.take().expect("checked");
            self.thread = Some(ConnThread::adopt(client)?);
        }
        if let Some(client) = &mut self.direct {
            return Ok(serve(client, request)?);
        }
        match &mut self.thread {
            Some(t) => t.call(request),
            None => Err(thread_gone()),
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.call(Request::Batch(sql.to_owned())).map(drop)
    }

    fn query_once(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        match self.call(Request::QueryOnce(sql.to_owned(), params.to_vec()))? {
            Reply::Rows(rows) => Ok(rows),
            _ => Err(wrong_reply()),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Closing talks to the server, which the client may not do inside a runtime.
        if let Some(client) = self.direct.take()
            && in_runtime()
        {
            let _ = ConnThread::adopt(client);
        }
    }
}

fn thread_gone() -> SqlError {
    SqlError::Invalid("the database connection's thread has stopped".to_owned())
}

fn wrong_reply() -> SqlError {
    SqlError::Invalid("the database connection's thread answered out of turn".to_owned())
}

/// Carries out one request on the connection's own thread.
fn serve(client: &mut Client, request: Request) -> Result<Reply, postgres::Error> {
    fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
        params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
    }
    fn rows(rows: Vec<postgres::Row>) -> Result<Vec<Row>, postgres::Error> {
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect()
    }
    Ok(match request {
        Request::Migrate => Reply::Version(migrate(client)?),
        Request::Batch(sql) => {
            client.batch_execute(&sql)?;
            Reply::Done
        }
        Request::Prepare(sql) => Reply::Statement(client.prepare(&sql)?),
        Request::Execute(stmt, params) => Reply::Count(client.execute(&stmt, &refs(&params))?),
        Request::Query(stmt, params) => Reply::Rows(rows(client.query(&stmt, &refs(&params))?)?),
        Request::QueryOnce(sql, params) => {
            Reply::Rows(rows(client.query(sql.as_str(), &refs(&params))?)?)
        }
        Request::Wait(timeout) => {
            use postgres::fallible_iterator::FallibleIterator;
            let mut n = client.notifications();
            let woken = n.timeout_iter(timeout).next()?.is_some();
            // One wake-up stands for all the notifications queued so far.
            while n.iter().next()?.is_some() {}
            Reply::Woken(woken)
        }
    })
}

/// A connection to the shared database, with its own cache of prepared statements. It
/// reconnects at the start of the next transaction after the connection was lost.
pub(crate) struct PgConn {
    conn: Option<Link>,
    config: postgres::Config,
    location: String,
    statements: HashMap<String, Statement>,
    listening: bool,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl PgConn {
    /// Connects to `url` and applies any pending migrations.
    pub(crate) fn connect(url: &str) -> Result<PgConn> {
        let location = redact_url(url);
        let config = parse_config(url, &location, "package-importer")?;
        let mut conn = Link::connect(&config)
            .map_err(|e| e.into_error(&format!("connecting to {location}")))?;
        let found = match conn.call(Request::Migrate) {
            Ok(Reply::Version(v)) => v,
            Ok(_) => return Err(wrong_reply().into_error("migrating")),
            Err(e) => return Err(e.into_error(&format!("migrating {location}"))),
        };
        let known = PG_MIGRATIONS.len() as i64;
        if found > known {
            return Err(Error::SchemaTooNew {
                path: PathBuf::from(&location),
                found,
                known,
            });
        }
        Ok(PgConn {
            conn: Some(conn),
            config,
            location,
            statements: HashMap::new(),
            listening: false,
        })
    }

    /// The URL, redacted.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    pub(crate) fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The open connection, reconnecting first if it was lost.
    fn conn(&mut self) -> Result<&mut Link, SqlError> {
        if self.conn.as_ref().is_none_or(Link::closed) {
            self.conn = None;
            self.statements.clear();
            self.listening = false;
            self.conn = Some(Link::connect(&self.config)?);
            log::info!("reconnected to the state database {}", self.location);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, SqlError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = match self.conn()?.call(Request::Prepare(sql.to_owned()))? {
            Reply::Statement(s) => s,
            _ => return Err(wrong_reply()),
        };
        if self.statements.len() >= STATEMENT_CACHE {
            // A few statements embed a value (a listing's LIMIT); never let them pile up.
            // Dropping a `Statement` closes it on the server.
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.conn()?.batch(sql)
    }

    /// Runs `f` in one transaction of `kind`, retrying the whole of it on a serialization
    /// failure, a deadlock, or a lost race for a package's one queued or one running job
    /// (see [`is_retryable`]), for at most [`db::RETRY_FOR`]. `f` may run more than once,
    /// so it must only touch the database.
    pub(crate) fn transact<T>(
        &mut self,
        kind: TxKind,
        what: &str,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, SqlError>,
    ) -> Result<T> {
        let begin = match kind {
            TxKind::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            TxKind::Write => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            TxKind::QueueWrite => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            TxKind::Claim => "BEGIN ISOLATION LEVEL READ COMMITTED",
        };
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        let mut reconnected = false;
        loop {
            let mut began = false;
            let attempt = (|| {
                self.batch(begin)?;
                began = true;
                let value = f(&mut PgTx { conn: self })?;
                self.batch("COMMIT")?;
                Ok(value)
            })();
            let e = match attempt {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let lost = self.conn.as_ref().is_none_or(Link::closed);
            if !began && lost && !reconnected {
                // The connection died while idle (a server restart, a dropped socket) and
                // nothing was sent but BEGIN: connect again, once, and start over.
                reconnected = true;
                continue;
            }
            // Leave no transaction open behind an error; a lost connection has none left.
            if let Some(conn) = self.conn.as_mut().filter(|c| !c.closed()) {
                let _ = conn.batch("ROLLBACK");
            }
            let SqlError::Postgres(pg) = &e else {
                return Err(e.into_error(what));
            };
            if is_stale_plan(pg) {
                // Another process changed the schema under a cached statement.
                self.statements.clear();
            } else if !is_retryable(pg) {
                return Err(e.into_error(what));
            }
            if start.elapsed() > db::RETRY_FOR {
                return Err(Error::Busy {
                    what: what.to_owned(),
                    waited_s: start.elapsed().as_secs(),
                });
            }
            log::debug!(
                "state database conflict while {what} ({}); retrying",
                describe(pg)
            );
            std::thread::sleep(pause + db::jitter(pause));
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// Waits up to `timeout` for a notification that jobs were enqueued. `LISTEN` starts on
    /// the first call (and again after a reconnection); notifications that arrived since the
    /// last call count, so a wake-up is never lost between two calls on one connection.
    pub(crate) fn wait_for_work(&mut self, timeout: Duration) -> Result<bool> {
        let what = "waiting for work";
        if !self.listening {
            self.batch(&format!("LISTEN {JOBS_CHANNEL}"))
                .map_err(|e| e.into_error(what))?;
            self.listening = true;
        }
        let conn = self.conn().map_err(|e| e.into_error(what))?;
        match conn.call(Request::Wait(timeout)) {
            Ok(Reply::Woken(w)) => Ok(w),
            Ok(_) => Err(wrong_reply().into_error(what)),
            Err(e) => Err(e.into_error(what)),
        }
    }
}

fn is_retryable(e: &postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else {
        return false;
    };
    match *db.code() {
        SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED => true,
        // A concurrent transaction queued or started a job of the same package after this
        // one's snapshot: PostgreSQL does not always report that as a serialization failure
        // (claims run at READ COMMITTED, and an UPDATE that moves a row into a partial
        // index is not covered). Run again, and the new row is seen: merged into, or the
        // package seen running. Only these two indexes: any other duplicate is a bug that
        // retrying would hide.
        SqlState::UNIQUE_VIOLATION => {
            matches!(
                db.constraint(),
                Some("jobs_one_queued" | "jobs_one_running")
            )
        }
        _ => false,
    }
}

fn is_stale_plan(e: &postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::FEATURE_NOT_SUPPORTED && db.message().contains("cached plan")
    })
}

fn parse_config(url: &str, location: &str, app: &str) -> Result<postgres::Config> {
    let mut config: postgres::Config =
        url.parse()
            .map_err(|e: postgres::Error| Error::DatabaseUrl {
                url: location.to_owned(),
                message: describe(&e),
            })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name(app);
    }
    // Notices ("relation already exists, skipping") are not worth an info line.
    config.notice_callback(|notice| log::debug!("postgres notice: {}", notice.message()));
    Ok(config)
}

/// A transaction on the shared database. BEGIN and COMMIT are the caller's; each statement
/// is prepared once per connection.
struct PgTx<'c> {
    conn: &'c mut PgConn,
}

impl Tx for PgTx<'_> {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let stmt = self.conn.statement(sql)?;
        match self
            .conn
            .conn()?
            .call(Request::Execute(stmt, params.to_vec()))?
        {
            Reply::Count(n) => Ok(n),
            _ => Err(wrong_reply()),
        }
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let stmt = self.conn.statement(sql)?;
        match self
            .conn
            .conn()?
            .call(Request::Query(stmt, params.to_vec()))?
        {
            Reply::Rows(rows) => Ok(rows),
            _ => Err(wrong_reply()),
        }
    }
}

type BoxError = Box<dyn StdError + Sync + Send>;

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::OID => u32::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    v.to_string().as_str().to_sql(ty, out)
                }
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => Err(format!("a real cannot be sent as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_str().to_sql(ty, out)
                }
                _ => Err(format!("text cannot be sent as {ty}").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("a blob cannot be sent as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        self.to_sql(ty, out)
    }
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, BoxError> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::OID => Value::Int(i64::from(u32::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(<&str>::from_sql(ty, raw)?.to_owned())
            }
            Type::BYTEA => Value::Blob(raw.to_vec()),
            Type::VOID => Value::Null,
            _ => return Err(format!("unsupported column type {ty}").into()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The key of the advisory lock that serialises migrations.
fn migration_lock_key() -> i64 {
    lock_key("pkgimport-queue migrations", "")
}

/// A 64-bit advisory lock key: FNV-1a over a fixed namespace and the name. Stable across
/// builds and hosts (unlike `std`'s hasher), which is the point: every host must derive the
/// same key for one package. A collision would only make two packages exclude each other.
pub(crate) fn lock_key(namespace: &str, name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in namespace.bytes().chain([0]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Applies pending migrations in one transaction, under a transaction-scoped advisory lock
/// so that processes starting together on an empty database take turns. Returns the version
/// found; one newer than this build knows is left alone, for the caller to refuse.
fn migrate(client: &mut Client) -> Result<i64, postgres::Error> {
    let known = PG_MIGRATIONS.len() as i64;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&migration_lock_key()])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      BIGINT PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL  -- the number of migrations applied
         );
         INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )?;
    let version: i64 = tx
        .query_one("SELECT version FROM schema_version WHERE id = 1", &[])?
        .try_get(0)?;
    if version >= known {
        return Ok(version);
    }
    for (i, m) in PG_MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(m)?;
        tx.execute(
            "UPDATE schema_version SET version = $1 WHERE id = 1",
            &[&(i as i64 + 1)],
        )?;
        log::debug!("state database migrated to version {}", i + 1);
    }
    tx.commit()?;
    Ok(version)
}

/// A session advisory lock on its own connection, held until dropped or until the
/// connection dies: the server releases it with the session, so a dead process or host
/// never leaves it behind.
pub(crate) struct AdvisoryLock {
    conn: Link,
    key: i64,
    package: String,
}

impl std::fmt::Debug for AdvisoryLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdvisoryLock")
            .field("package", &self.package)
            .field("key", &self.key)
            .finish()
    }
}

/// The namespace of per-package lock keys.
const PACKAGE_LOCK_NAMESPACE: &str = "pkgimport package lock";

/// `key` as the (classid, objid) pair under which `pg_locks` shows a bigint advisory lock.
fn key_halves(key: i64) -> [Value; 2] {
    let key = key as u64;
    [
        Value::Int((key >> 32) as i64),
        Value::Int((key & 0xffff_ffff) as i64),
    ]
}

impl AdvisoryLock {
    /// Takes the package's lock if it is free; `Ok(Err(holder))` if another session holds
    /// it, with the holder's application name (`package-importer lock host=... pid=...`)
    /// when the server shows it.
    pub(crate) fn try_take(
        config: &postgres::Config,
        location: &str,
        package: &PackageName,
    ) -> Result<std::result::Result<AdvisoryLock, Option<String>>> {
        let mut lock = AdvisoryLock::connect(config, location, package)?;
        let got = lock
            .query_bool("SELECT pg_try_advisory_lock($1)", &[Value::Int(lock.key)])
            .map_err(|e| lock.error(e))?;
        if got {
            return Ok(Ok(lock));
        }
        let holder = lock
            .conn
            .query_once(
                "SELECT a.application_name FROM pg_locks l
                 JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())
                   AND CAST(l.classid AS BIGINT) = $1 AND CAST(l.objid AS BIGINT) = $2",
                &key_halves(lock.key),
            )
            .and_then(|rows| rows.first().map(|r| r.get::<String>(0)).transpose())
            .map_err(|e| lock.error(e))?;
        Ok(Err(holder))
    }

    /// Waits for the package's lock, however long it takes.
    pub(crate) fn take_wait(
        config: &postgres::Config,
        location: &str,
        package: &PackageName,
    ) -> Result<AdvisoryLock> {
        let mut lock = AdvisoryLock::connect(config, location, package)?;
        lock.conn
            .query_once("SELECT pg_advisory_lock($1)", &[Value::Int(lock.key)])
            .map_err(|e| lock.error(e))?;
        Ok(lock)
    }

    fn connect(
        config: &postgres::Config,
        location: &str,
        package: &PackageName,
    ) -> Result<AdvisoryLock> {
        let mut config = config.clone();
        config.application_name(&lock_holder_name());
        let conn = Link::connect(&config)
            .map_err(|e| e.into_error(&format!("connecting to {location}")))?;
        let mut lock = AdvisoryLock {
            conn,
            key: lock_key(PACKAGE_LOCK_NAMESPACE, package.as_str()),
            package: package.to_string(),
        };
        // The server notices a dead host by TCP keepalives: ask for them early, so that a
        // host that vanished gives up its locks in about a minute (no effect on sockets).
        lock.conn
            .batch(
                "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10;
                 SET tcp_keepalives_count = 3;",
            )
            .map_err(|e| lock.error(e))?;
        Ok(lock)
    }

    fn query_bool(&mut self, sql: &str, params: &[Value]) -> Result<bool, SqlError> {
        let rows = self.conn.query_once(sql, params)?;
        rows.first()
            .ok_or_else(|| SqlError::Invalid("expected a row, found none".to_owned()))?
            .get(0)
    }

    fn error(&self, e: SqlError) -> Error {
        e.into_error(&format!("locking package {}", self.package))
    }

    /// Whether this session still holds the lock: false once its connection was lost.
    pub(crate) fn still_held(&mut self) -> Result<bool> {
        if self.conn.closed() {
            return Ok(false);
        }
        let held = self.query_bool(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
               AND granted AND pid = pg_backend_pid() AND objsubid = 1
               AND CAST(classid AS BIGINT) = $1 AND CAST(objid AS BIGINT) = $2)",
            &key_halves(self.key),
        );
        match held {
            Ok(h) => Ok(h),
            Err(_) if self.conn.closed() => Ok(false),
            Err(SqlError::Postgres(e)) if is_transient(&e) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        // Unlock before closing, so that the lock is free when drop returns (the server
        // would drop it too, but only once the backend has exited).
        if !self.conn.closed() {
            let _ = self
                .conn
                .query_once("SELECT pg_advisory_unlock($1)", &[Value::Int(self.key)]);
        }
    }
}

/// What the holder of an advisory lock calls itself, for the message of whoever finds the
/// lock held.
fn lock_holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let name = format!(
        "package-importer lock host={host} pid={}",
        std::process::id()
    );
    // The server truncates application names at 63 bytes.
    name.chars().take(63).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        let cases = [
            ("postgres://u:secret@db:5432/q", "postgres://***@db:5432/q"),
            ("postgresql://u@db/q", "postgresql://***@db/q"),
            ("postgres://db/q", "postgres://db/q"),
            (
                "postgres://db/q?user=u&password=secret&sslmode=disable",
                "postgres://db/q?user=u&password=***&sslmode=disable",
            ),
            ("postgres://u:p@ss@db/q", "postgres://***@db/q"),
            ("postgres://u:secret@db", "postgres://***@db"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn lock_keys_are_stable_and_namespaced() {
        // Fixed values: every host and every build must agree on them.
        assert_eq!(lock_key("", ""), 0xaf63_bd4c_8601_b7df_u64 as i64);
        assert_ne!(
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello"),
            lock_key("other", "hello")
        );
        assert_ne!(
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello"),
            lock_key(PACKAGE_LOCK_NAMESPACE, "hellp")
        );
        assert_eq!(
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello"),
            lock_key(PACKAGE_LOCK_NAMESPACE, "hello")
        );
    }
}

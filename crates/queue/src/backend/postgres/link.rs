//! One connection to the server, usable from any thread: in place, or from inside a tokio
//! runtime through a thread of its own.
//!
//! The client drives a little tokio runtime of its own and panics when it is called on a
//! thread that is already inside one, as the driver's is. So a [`Link`] is used in place
//! until the first call made from inside a runtime; from then on it lives on a thread of its
//! own ([`ConnThread`]) and callers hand it owned requests ([`Request`]) over a channel. A
//! statement then costs one channel round trip more (two thread switches: microseconds on
//! an idle host, more on a crowded one), and the binaries need no change.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};

use crate::sql::{Row, SqlError, Value};

/// What a [`ConnThread`] is asked to do. Everything is owned: the thread outlives borrows.
pub(super) enum Request {
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

/// What a [`Request`] answers.
pub(super) enum Reply {
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
pub(super) struct Link {
    direct: Option<Client>,
    thread: Option<ConnThread>,
}

impl Link {
    pub(super) fn connect(config: &postgres::Config) -> Result<Link, SqlError> {
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
    pub(super) fn closed(&self) -> bool {
        match (&self.direct, &self.thread) {
            (Some(c), _) => c.is_closed(),
            (None, Some(t)) => t.closed,
            (None, None) => true,
        }
    }

    pub(super) fn call(&mut self, request: Request) -> Result<Reply, SqlError> {
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

    pub(super) fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.call(Request::Batch(sql.to_owned())).map(drop)
    }

    pub(super) fn query_once(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
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

pub(super) fn wrong_reply() -> SqlError {
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
        Request::Migrate => Reply::Version(super::migrate(client)?),
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

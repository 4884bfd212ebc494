//! The one SQL layer under [`Store`](crate::Store): owned values, rows, and a transaction
//! trait that both backends implement, so that every query is written once.
//!
//! The SQL is written in the dialect that SQLite and PostgreSQL share: `$1..$n`
//! placeholders (rewritten to `?1..?n` for SQLite by [`sqlite_sql`]), `INSERT ... ON
//! CONFLICT ... DO NOTHING/UPDATE` with the target's columns qualified by the table name
//! (PostgreSQL finds them ambiguous otherwise), `RETURNING`, `CASE` instead of the scalar
//! `max`/`min` (which PostgreSQL spells `greatest`/`least`), integer booleans (0/1), integer
//! timestamps, and an explicit `CAST` wherever PostgreSQL would otherwise answer `numeric`
//! or cannot infer a parameter's type. The few statements that truly differ (pragmas, the
//! WAL, row locks for claims, `NOTIFY`) branch on [`Tx::backend`] where they are used.

use std::borrow::Cow;

use pkgimport_core::PackageName;

use crate::Backend;

/// One value going into or coming out of the database.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<&PackageName> for Value {
    fn from(v: &PackageName) -> Value {
        Value::Text(v.as_str().to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// The parameters of one statement: `params![a, b]` is `&[Value::from(a), Value::from(b)]`.
macro_rules! params {
    () => { &[] as &[$crate::sql::Value] };
    ($($v:expr),+ $(,)?) => { &[$($crate::sql::Value::from($v)),+] as &[$crate::sql::Value] };
}
pub(crate) use params;

/// One row of a result, owned.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    /// Column `i` as `T`; an error names the column and what it held.
    pub(crate) fn get<T: FromValue>(&self, i: usize) -> Result<T, SqlError> {
        let v = self.0.get(i).unwrap_or(&Value::Null);
        T::from_value(v).ok_or_else(|| {
            SqlError::Invalid(format!(
                "column {i} holds {v:?}, not {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

/// A Rust value that a column can be read as.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for i32 {
    fn from_value(v: &Value) -> Option<i32> {
        i64::from_value(v).and_then(|i| i32::try_from(i).ok())
    }
}

impl FromValue for u32 {
    fn from_value(v: &Value) -> Option<u32> {
        i64::from_value(v).and_then(|i| u32::try_from(i).ok())
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<bool> {
        i64::from_value(v).map(|i| i != 0)
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<f64> {
        match v {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<String> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Option<T>> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// An error inside a transaction, before it is given the name of the operation.
#[derive(Debug)]
pub(crate) enum SqlError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    /// The data or the request made no sense (a value of the wrong type, a rule broken).
    Invalid(String),
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> SqlError {
        SqlError::Sqlite(e)
    }
}

impl From<postgres::Error> for SqlError {
    fn from(e: postgres::Error) -> SqlError {
        SqlError::Postgres(e)
    }
}

impl SqlError {
    /// Names the operation that failed.
    pub(crate) fn into_error(self, what: &str) -> crate::Error {
        let what = what.to_owned();
        match self {
            SqlError::Sqlite(source) => crate::Error::Sqlite { what, source },
            SqlError::Postgres(error) => crate::Error::Postgres { what, error },
            SqlError::Invalid(message) => crate::Error::Invalid { what, message },
        }
    }
}

/// What a transaction is for; each backend picks its locking from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxKind {
    /// Reads only, from one consistent snapshot.
    Read,
    /// Reads and writes, serialised against every other write.
    Write,
    /// A write of the queue's hot rows (enqueue, finishing a run, re-queueing) whose every
    /// race with another writer ends in a write-write conflict: on the same row (a
    /// serialization failure at REPEATABLE READ too) or on the unique indexes that allow
    /// one queued and one running job per package (a retried unique violation). So
    /// PostgreSQL runs it at REPEATABLE READ, which spares it the false conflicts of
    /// SERIALIZABLE's predicate locks on hot pages; SQLite runs it as any write.
    QueueWrite,
    /// A claim: on PostgreSQL it runs at READ COMMITTED so that `SKIP LOCKED` lets claimers
    /// pass each other (see `Store::claim`); on SQLite it is an ordinary write.
    Claim,
}

/// One open transaction. Every statement of the crate goes through this.
pub(crate) trait Tx {
    fn backend(&self) -> Backend;

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError>;

    /// Runs a statement and returns all its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, SqlError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row, which must exist.
    fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, SqlError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| SqlError::Invalid("expected a row, found none".to_owned()))
    }
}

/// Rewrites `$1..$n` placeholders to SQLite's `?1..?n`, leaving string literals, quoted
/// identifiers and comments alone. (SQLite reads `$1` as a *named* parameter, numbered by
/// first appearance, which would bind `$2 ... $1` the wrong way round.)
pub(crate) fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"') => {
                // To the closing quote; a doubled quote is an escaped one and simply
                // reopens the literal on the next turn.
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                out.push_str(&sql[copied..i]);
                out.push('?');
                i += 1;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_literals_only() {
        let cases = [
            ("SELECT 1", "SELECT 1"),
            ("SELECT $1, $12", "SELECT ?1, ?12"),
            (
                "UPDATE t SET a = $2 WHERE id = $1",
                "UPDATE t SET a = ?2 WHERE id = ?1",
            ),
            ("SELECT '$1', $1", "SELECT '$1', ?1"),
            ("SELECT 'it''s $1', $2", "SELECT 'it''s $1', ?2"),
            (
                "SELECT \"$1\" FROM t WHERE a = $1",
                "SELECT \"$1\" FROM t WHERE a = ?1",
            ),
            ("SELECT $1 -- $2\n, $3", "SELECT ?1 -- $2\n, ?3"),
            ("SELECT $x, $", "SELECT $x, $"),
            ("SELECT 'open $1", "SELECT 'open $1"),
        ];
        for (input, want) in cases {
            assert_eq!(sqlite_sql(input), want, "{input}");
        }
    }

    #[test]
    fn rows_convert_or_name_the_column() {
        let row = Row(vec![
            Value::Int(3),
            Value::Null,
            Value::Text("x".into()),
            Value::Real(1.5),
        ]);
        assert_eq!(row.get::<i64>(0).unwrap(), 3);
        assert!(row.get::<bool>(0).unwrap());
        assert_eq!(row.get::<f64>(0).unwrap(), 3.0);
        assert_eq!(row.get::<Option<i64>>(1).unwrap(), None);
        assert_eq!(row.get::<String>(2).unwrap(), "x");
        assert_eq!(row.get::<f64>(3).unwrap(), 1.5);
        let err = row.get::<i64>(2).unwrap_err();
        assert!(matches!(err, SqlError::Invalid(m) if m.contains("column 2")));
        assert!(row.get::<i64>(1).is_err(), "NULL is not an i64");
    }
}

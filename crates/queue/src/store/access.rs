//! Access to importer-web: bearer tokens (stored as a hash, never as the token), the
//! browser sessions opened with one (stored as a hash of the cookie), and the audit log of
//! the actions taken through the service. Hashing is the caller's: this crate sees only
//! the hex digests.

use super::Store;
use super::events::record_events;
use crate::Result;
use crate::model::*;
use crate::sql::{Row, SqlError, TxKind, params};

impl Store {
    /// Adds a token. A name that exists already is refused ([`Error::Invalid`](crate::Error::Invalid)): revoke it
    /// first.
    pub fn add_token(&mut self, name: &str, role: Role, hash: &str) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "adding a token", |tx| {
            if tx
                .query_opt("SELECT 1 FROM tokens WHERE name = $1", params![name])?
                .is_some()
            {
                return Err(SqlError::Invalid(format!(
                    "a token named {name:?} exists; revoke it first"
                )));
            }
            tx.execute(
                "INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4)",
                params![name, role.as_str(), hash, now.0],
            )?;
            Ok(())
        })
    }

    /// Removes a token and every session opened with it. False when there was none.
    pub fn revoke_token(&mut self, name: &str) -> Result<bool> {
        self.transact(TxKind::Write, "revoking a token", |tx| {
            tx.execute("DELETE FROM sessions WHERE token_name = $1", params![name])?;
            Ok(tx.execute("DELETE FROM tokens WHERE name = $1", params![name])? > 0)
        })
    }

    /// Every token, by name.
    pub fn tokens(&mut self) -> Result<Vec<TokenInfo>> {
        self.transact(TxKind::Read, "listing tokens", |tx| {
            tx.query(
                "SELECT name, role, created_at FROM tokens ORDER BY name",
                params![],
            )?
            .iter()
            .map(token_row)
            .collect()
        })
    }

    /// The token whose hash this is.
    pub fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenInfo>> {
        self.transact(TxKind::Read, "looking up a token", |tx| {
            tx.query_opt(
                "SELECT name, role, created_at FROM tokens WHERE hash = $1",
                params![hash],
            )?
            .map(|r| token_row(&r))
            .transpose()
        })
    }

    /// Opens a session for the token `token_name`, until `expires_at`; `hash` is the
    /// cookie's. Expired sessions are removed on the way.
    pub fn open_session(
        &mut self,
        hash: &str,
        token_name: &str,
        expires_at: Timestamp,
    ) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "opening a session", |tx| {
            tx.execute(
                "DELETE FROM sessions WHERE expires_at <= $1",
                params![now.0],
            )?;
            tx.execute(
                "INSERT INTO sessions (hash, token_name, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
                params![hash, token_name, now.0, expires_at.0],
            )?;
            Ok(())
        })
    }

    /// The token of an unexpired session, if the session and its token still exist.
    pub fn session(&mut self, hash: &str, now: Timestamp) -> Result<Option<TokenInfo>> {
        self.transact(TxKind::Read, "looking up a session", |tx| {
            tx.query_opt(
                "SELECT t.name, t.role, t.created_at FROM sessions s
                 JOIN tokens t ON t.name = s.token_name
                 WHERE s.hash = $1 AND s.expires_at > $2",
                params![hash, now.0],
            )?
            .map(|r| token_row(&r))
            .transpose()
        })
    }

    /// Ends a session (logging out).
    pub fn close_session(&mut self, hash: &str) -> Result<()> {
        self.transact(TxKind::Write, "closing a session", |tx| {
            tx.execute("DELETE FROM sessions WHERE hash = $1", params![hash])?;
            Ok(())
        })
    }

    /// Records an action in the audit log, with an event so that the log's page follows.
    pub fn record_action(&mut self, action: &NewAction<'_>) -> Result<i64> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "recording an action", |tx| {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO actions (at, who, action, target, ok, result)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    params![
                        now.0,
                        action.who,
                        action.action,
                        action.target,
                        action.ok,
                        action.result
                    ],
                )?
                .get(0)?;
            record_events(tx, EventKind::Action, &[], now)?;
            Ok(id)
        })
    }

    /// The newest actions, newest first.
    pub fn actions(&mut self, limit: u64) -> Result<Vec<ActionRecord>> {
        self.transact(TxKind::Read, "listing actions", |tx| {
            tx.query(
                "SELECT id, at, who, action, target, ok, result FROM actions
                 ORDER BY id DESC LIMIT $1",
                params![limit as i64],
            )?
            .iter()
            .map(|r| {
                Ok(ActionRecord {
                    id: r.get(0)?,
                    at: Timestamp(r.get(1)?),
                    who: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    ok: r.get(5)?,
                    result: r.get(6)?,
                })
            })
            .collect()
        })
    }
}

fn token_row(r: &Row) -> Result<TokenInfo, SqlError> {
    let role: String = r.get(1)?;
    Ok(TokenInfo {
        name: r.get(0)?,
        role: Role::parse(&role)
            .ok_or_else(|| SqlError::Invalid(format!("unknown role {role:?}")))?,
        created_at: Timestamp(r.get(2)?),
    })
}

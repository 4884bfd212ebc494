//! Settings: small named values shared by every process, such as the pause flag.

use super::Store;
use super::events::record_events;
use crate::Result;
use crate::model::{EventKind, Timestamp};
use crate::sql::{SqlError, Tx, TxKind, params};

impl Store {
    /// Sets or clears the pause flag, with an event.
    pub fn set_paused(&mut self, paused: bool) -> Result<()> {
        let now = Timestamp::now();
        self.transact(TxKind::Write, "writing the pause flag", |tx| {
            write_setting(tx, PAUSED, if paused { "1" } else { "0" })?;
            record_events(tx, EventKind::Paused, &[], now)
        })
    }

    pub fn is_paused(&mut self) -> Result<bool> {
        Ok(self.setting(PAUSED)?.as_deref() == Some("1"))
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.transact(TxKind::Write, "writing a setting", |tx| {
            write_setting(tx, key, value)
        })
    }

    pub fn setting(&mut self, key: &str) -> Result<Option<String>> {
        self.transact(TxKind::Read, "reading a setting", |tx| {
            tx.query_opt("SELECT value FROM settings WHERE key = $1", params![key])?
                .map(|r| r.get(0))
                .transpose()
        })
    }
}

fn write_setting(tx: &mut dyn Tx, key: &str, value: &str) -> Result<(), SqlError> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The setting that pauses claiming: `"1"` while paused.
pub(super) const PAUSED: &str = "paused";

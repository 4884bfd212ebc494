//! Settings: small named values shared by every process, such as the pause flag.

use super::Store;
use crate::Result;
use crate::sql::{TxKind, params};

impl Store {
    pub fn set_paused(&mut self, paused: bool) -> Result<()> {
        self.set_setting(PAUSED, if paused { "1" } else { "0" })
    }

    pub fn is_paused(&mut self) -> Result<bool> {
        Ok(self.setting(PAUSED)?.as_deref() == Some("1"))
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.transact(TxKind::Write, "writing a setting", |tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
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

/// The setting that pauses claiming: `"1"` while paused.
pub(super) const PAUSED: &str = "paused";

//! The runs table: the process that carries out a run, the leases that drivers take on
//! their runs, and the listings of open and recent runs.

use pkgimport_core::{PackageName, Priority};

use super::Store;
use crate::Result;
use crate::model::*;
use crate::sql::{Row, SqlError, TxKind, params};

impl Store {
    /// Records the process that carries out a run, so that a later driver can find it.
    pub fn set_run_process(&mut self, run_id: i64, pid: u32, pid_start: Option<u64>) -> Result<()> {
        self.transact(TxKind::QueueWrite, "recording a run's process", |tx| {
            tx.execute(
                "UPDATE runs SET pid = $2, pid_start = $3 WHERE id = $1",
                params![run_id, pid, pid_start.map(|s| s as i64)],
            )?;
            Ok(())
        })
    }

    /// Names the driver that claims through this store, and the lease it takes on each run
    /// it claims: the run is its own until the lease expires, and [`Store::renew_leases`]
    /// extends the leases of all its open runs. Drivers sharing one database must use
    /// different names.
    pub fn act_as_driver(&mut self, name: &str, lease: std::time::Duration) {
        self.driver = Some((name.to_owned(), lease));
    }

    /// Extends the lease of every open run of this store's driver (see
    /// [`Store::act_as_driver`]) to a full lease from now. Does nothing without a driver.
    pub fn renew_leases(&mut self) -> Result<()> {
        let Some((name, lease)) = self.driver.clone() else {
            return Ok(());
        };
        let until = Timestamp::now().0 + lease.as_millis() as i64;
        self.transact(TxKind::QueueWrite, "renewing run leases", |tx| {
            tx.execute(
                "UPDATE runs SET lease_until = $2 WHERE ended_at IS NULL AND driver = $1",
                params![name.as_str(), until],
            )?;
            Ok(())
        })
    }

    /// Runs that were opened and never closed.
    pub fn open_runs(&mut self) -> Result<Vec<OpenRun>> {
        self.transact(TxKind::Read, "listing open runs", |tx| {
            tx.query(
                "SELECT id, job_id, package, driver_pid, pid, pid_start, driver, lease_until
                 FROM runs WHERE ended_at IS NULL ORDER BY id",
                params![],
            )?
            .iter()
            .map(|r| {
                Ok(OpenRun {
                    run_id: r.get(0)?,
                    job_id: r.get(1)?,
                    package: r.get(2)?,
                    driver_pid: r.get(3)?,
                    pid: r.get(4)?,
                    pid_start: r.get::<Option<i64>>(5)?.map(|s| s as u64),
                    driver: r.get(6)?,
                    lease_until: r.get::<Option<i64>>(7)?.map(Timestamp),
                })
            })
            .collect()
        })
    }

    /// The newest runs, of one package or of all, newest first.
    pub fn runs(&mut self, package: Option<&PackageName>, limit: u64) -> Result<Vec<RunRecord>> {
        self.transact(TxKind::Read, "listing runs", |tx| {
            tx.query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE CAST($1 AS TEXT) IS NULL OR package = $1
                     ORDER BY id DESC LIMIT $2"
                ),
                params![package, limit as i64],
            )?
            .iter()
            .map(run_row)
            .collect()
        })
    }
}

const RUN_COLUMNS: &str = "id, job_id, package, priority, started_at, ended_at, pid, exit_code, \
                           signal, outcome, signature, log_path";

fn run_row(r: &Row) -> Result<RunRecord, SqlError> {
    let started_at = Timestamp(r.get(4)?);
    let ended_at: Option<Timestamp> = r.get::<Option<i64>>(5)?.map(Timestamp);
    let outcome: Option<String> = r.get(9)?;
    Ok(RunRecord {
        id: r.get(0)?,
        job_id: r.get(1)?,
        package: r.get(2)?,
        priority: Priority(r.get(3)?),
        started_at,
        ended_at,
        duration_s: ended_at.map(|e| (e.0 - started_at.0) as f64 / 1000.0),
        pid: r.get(6)?,
        exit_code: r.get(7)?,
        signal: r.get(8)?,
        outcome: outcome.as_deref().and_then(Outcome::parse),
        signature: r.get(10)?,
        log_path: r.get(11)?,
    })
}

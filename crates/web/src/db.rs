//! The state database on threads of its own. The `Store` is synchronous (a SQLite call or a
//! PostgreSQL round trip blocks its thread), so it never runs on the async workers: each of a
//! few threads owns one store, and takes jobs from one queue. A handler awaits the reply;
//! the workers stay free for other requests, `/healthz` among them.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use pkgimport_queue::Store;
use tokio::sync::oneshot;

use crate::{Error, OpenStore};

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// The queue of database jobs, and the threads that take them.
pub(crate) struct Db {
    jobs: mpsc::Sender<Job>,
}

impl Db {
    /// Opens `threads` stores (failing at once if the database cannot be opened) and starts a
    /// thread for each. The threads end when the `Db` is dropped.
    pub(crate) fn start(threads: usize, open: &OpenStore) -> Result<Db, Error> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let mut store = open()?;
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("db-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for a job, never while running it.
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut store),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| Error::Serve(std::io::Error::other(e)))?;
        }
        Ok(Db { jobs: tx })
    }

    /// Runs `f` on a database thread and waits for its result without blocking the worker.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |store| {
                let _ = tx.send(f(store));
            }))
            .map_err(|_| Error::DbStopped)?;
        rx.await.map_err(|_| Error::DbStopped)
    }
}

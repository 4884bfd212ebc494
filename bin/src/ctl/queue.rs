//! `importctl queue`: the jobs in claim order, running first.

use std::io::Write;

use pkgimport_queue::Timestamp;

use super::util::{ago, print_json};
use crate::config::Config;
use crate::{Exit, Failure};

pub(super) fn run(
    config: &Config,
    json: bool,
    limit: Option<u64>,
    out: &mut dyn Write,
) -> Result<Exit, Failure> {
    let mut store = crate::open_store(config)?;
    let jobs = store.queue(limit)?;
    if json {
        print_json(out, &jobs)?;
        return Ok(Exit::Ok);
    }
    let now = Timestamp::now();
    writeln!(
        out,
        "{:>8}  {:<30} {:>8}  {:<8} {:>8}  {:>8}  NOTE",
        "ID", "PACKAGE", "PRIORITY", "STATE", "AGE", "ATTEMPTS"
    )?;
    for j in jobs {
        let note = if j.blocked {
            "blocked by a failure".to_owned()
        } else {
            match j.not_before {
                Some(t) if t > now => format!("waits {}", ago((t.0 - now.0) as u64)),
                _ => String::new(),
            }
        };
        writeln!(
            out,
            "{:>8}  {:<30} {:>8}  {:<8} {:>8}  {:>8}  {note}",
            j.id,
            j.package,
            j.priority.to_string(),
            j.state,
            ago(j.enqueued_at.age(now).as_millis() as u64),
            j.attempts
        )?;
    }
    Ok(Exit::Ok)
}

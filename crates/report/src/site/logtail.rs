//! The last lines of a run's log, for the package pages.
//!
//! Logs can be large, so only a bounded window at the end of the file is read. The relative
//! path comes from the database, which is ours, but a report must never be a way to show an
//! arbitrary file: a path that is absolute or climbs out with `..` is refused.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

/// At most this many bytes are read from the end of a log, whatever the line count.
const WINDOW: u64 = 64 * 1024;

/// What the report can show of one run's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LogTail {
    /// The last lines (possibly none: an empty log).
    Text(String),
    /// There is no log file (never written, or cleaned up).
    Missing,
    /// The path or the file could not be used; the reason, for the page.
    Unreadable(String),
}

/// Reads the last `lines` lines of `<state_dir>/<rel>`.
pub(crate) fn read_tail(state_dir: &Path, rel: &str, lines: usize) -> LogTail {
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return LogTail::Unreadable(format!("refusing log path {rel:?}"));
    }
    let path = state_dir.join(rel_path);
    match tail_of(&path, lines) {
        Ok(text) => LogTail::Text(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => LogTail::Missing,
        Err(e) => {
            log::warn!("cannot read log path={} error={e}", path.display());
            LogTail::Unreadable(format!("cannot read {rel}: {e}"))
        }
    }
}

fn tail_of(path: &Path, lines: usize) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(WINDOW);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(WINDOW).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        // The window began inside a line: that fragment is not a line of the log.
        all.remove(0);
    }
    let keep = all.len().saturating_sub(lines);
    Ok(all[keep..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_refuses_paths_outside_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs/p")).unwrap();
        std::fs::write(dir.path().join("logs/p/1.log"), "a\nb\nc\nd\n").unwrap();
        assert_eq!(
            read_tail(dir.path(), "logs/p/1.log", 2),
            LogTail::Text("c\nd".into())
        );
        assert_eq!(
            read_tail(dir.path(), "logs/p/1.log", 10),
            LogTail::Text("a\nb\nc\nd".into())
        );
        assert_eq!(read_tail(dir.path(), "logs/p/2.log", 2), LogTail::Missing);
        for bad in ["", "/etc/passwd", "../x", "logs/../../x", "./logs/p/1.log"] {
            assert!(
                matches!(read_tail(dir.path(), bad, 2), LogTail::Unreadable(_)),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn a_big_log_is_read_from_a_window_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::write(dir.path().join("big.log"), &text).unwrap();
        assert_eq!(
            read_tail(dir.path(), "big.log", 2),
            LogTail::Text("line 19998\nline 19999".into())
        );
        let LogTail::Text(t) = read_tail(dir.path(), "big.log", 1_000_000) else {
            panic!("readable");
        };
        assert!(t.len() as u64 <= WINDOW);
        assert!(
            t.starts_with("line "),
            "no partial first line: {:?}",
            &t[..20]
        );
    }
}

//! lp-sim, the Launchpad stand-in, as a benchmark fixture: start it on a free port, write a
//! configuration file that points the binaries at it, and publish uploads through its
//! control endpoint. The process is killed when the [`Sim`] is dropped.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running lp-sim.
pub(crate) struct Sim {
    child: Child,
    port: u16,
    /// Holds the port file and the log.
    dir: tempfile::TempDir,
}

impl Sim {
    /// Starts `lp_sim` with `source` (`--archive DIR` or `--synthetic N --series K ...`) and
    /// waits until it listens.
    pub(crate) fn start<S: AsRef<OsStr>>(lp_sim: &Path, source: &[S]) -> anyhow::Result<Sim> {
        let dir = tempfile::tempdir()?;
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("lp-sim.log"))?;
        let child = Command::new(lp_sim)
            .args(source)
            .arg("--port-file")
            .arg(&port_file)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", lp_sim.display()))?;
        let mut sim = Sim {
            child,
            port: 0,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Ok(port) = text.trim().parse()
            {
                sim.port = port;
                return Ok(sim);
            }
            if let Some(status) = sim.child.try_wait()? {
                bail!("lp-sim exited with {status}:\n{}", sim.log());
            }
            if Instant::now() > deadline {
                bail!("lp-sim did not start within 60 s:\n{}", sim.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("lp-sim.log")).unwrap_or_default()
    }

    /// Writes `dir/config.toml` for a state directory `dir/state` served by this lp-sim, and
    /// returns the path of the file. Every series is polled, Obsolete ones included: a
    /// synthetic history publishes packages in its old series too, and the benchmarks count
    /// every publication served.
    pub(crate) fn write_config(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let state = dir.join("state");
        let path = dir.join("config.toml");
        let text = format!(
            "state_dir = {:?}\n[launchpad]\napi_root = \"http://127.0.0.1:{}/devel/\"\n\
             distributions = [\"debian\"]\nseries = \"all\"\n",
            state.to_str().context("non-UTF-8 temporary path")?,
            self.port
        );
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Publishes `package` `version` (already in the archive) to `suite`, status Published.
    pub(crate) fn publish(&self, package: &str, version: &str, suite: &str) -> anyhow::Result<()> {
        let body = format!(
            r#"{{"package":"{package}","version":"{version}","suite":"{suite}","status":"Published"}}"#
        );
        self.control("/_sim/publish", &body)
            .with_context(|| format!("publishing {package} {version} to {suite}"))?;
        Ok(())
    }
}

impl Sim {
    /// POSTs a JSON `body` to the control endpoint `path` (`/_sim/...`); fails unless the
    /// answer is a 2xx. Returns the answer's body.
    pub(crate) fn control(&self, path: &str, body: &str) -> anyhow::Result<String> {
        let base_url = format!("http://127.0.0.1:{}", self.port);
        Ok(pkgimport_testkit::sim::control(&base_url, path, body)?)
    }

    /// The Launchpad requests served since the counts were last reset (`GET /_sim/stats`;
    /// the control endpoints are not counted).
    pub(crate) fn requests(&self) -> anyhow::Result<u64> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        // HTTP/1.0: the answer is the body up to the end of the stream, never chunked.
        write!(
            stream,
            "GET /_sim/stats HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .context("no body in the answer to GET /_sim/stats")?;
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            bail!("GET /_sim/stats: {head}");
        }
        let stats: serde_json::Value = serde_json::from_str(body)?;
        stats["total"].as_u64().context("no total in /_sim/stats")
    }

    /// The process id of lp-sim, to read its CPU time.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `key=value` field of the last stderr line that has one (the binaries' summary lines).
pub(crate) fn log_field<'a>(stderr: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!(" {key}=");
    let line = stderr.lines().rev().find(|l| l.contains(&needle))?;
    let start = line.find(&needle)? + needle.len();
    line[start..].split_whitespace().next()
}

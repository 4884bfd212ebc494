//! `cargo xtask web-load`: importer-web under load on loopback, bounded in time, next to a
//! driver that imports. It measures the driver's jobs/s alone, then again while N clients
//! (tokio tasks, one keep-alive connection each) read the pages for the same time and a
//! probe asks `/healthz` every 10 ms on a connection of its own; it prints requests/s,
//! latency percentiles, how many requests were shed (503), `/healthz`'s percentiles while
//! shedding, and the driver's throughput with and without the load. Then it measures the
//! delay from a run's end to its package page showing the run, under load and idle.
//!
//! The driver runs `/bin/true` as its import command, so that its throughput is all
//! dispatch and bookkeeping: the part the web service could slow down by competing for the
//! CPU and the database. Nothing here asserts a timing; the test suite runs `--quick`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pkgimport_core::{PackageName, Priority};
use pkgimport_queue::{Disposition, Outcome, RunEnd, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// What one run of the load test does.
struct Plan {
    clients: usize,
    seconds: u64,
    jobs: usize,
    max_in_flight: usize,
    probes: usize,
    /// Each client waits this long between its requests (0: none, as fast as answered).
    think: Duration,
}

/// Where the binaries are.
struct Programs {
    driver: PathBuf,
    web: PathBuf,
}

pub(crate) fn web_load(args: &[String]) -> anyhow::Result<()> {
    let mut plan = Plan {
        clients: 200,
        seconds: 30,
        jobs: 30_000,
        max_in_flight: 64,
        probes: 50,
        think: Duration::ZERO,
    };
    let mut bindir: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().context("a flag without its value");
        match a.as_str() {
            "--quick" => {
                plan = Plan {
                    clients: 20,
                    seconds: 3,
                    jobs: 20_000,
                    max_in_flight: 64,
                    probes: 5,
                    think: Duration::ZERO,
                };
            }
            "--clients" => plan.clients = value()?.parse()?,
            "--seconds" => plan.seconds = value()?.parse()?,
            "--max-in-flight" => plan.max_in_flight = value()?.parse()?,
            "--jobs" => plan.jobs = value()?.parse()?,
            "--think-ms" => plan.think = Duration::from_millis(value()?.parse()?),
            "--bindir" => bindir = Some(PathBuf::from(value()?)),
            other => bail!("web-load: unknown argument {other}"),
        }
    }
    let programs = match bindir {
        Some(dir) => Programs {
            driver: dir.join("driver"),
            web: dir.join("importer-web"),
        },
        None => build()?,
    };
    run(&plan, &programs)
}

fn build() -> anyhow::Result<Programs> {
    let dir = crate::cargo_build_release(&["driver", "importer-web"])?;
    Ok(Programs {
        driver: dir.join("driver"),
        web: dir.join("importer-web"),
    })
}

fn names(prefix: &str, n: usize) -> Vec<PackageName> {
    (0..n)
        .map(|i| PackageName::parse(&format!("{prefix}{i}")).unwrap())
        .collect()
}

/// A state database with `jobs` queued.
fn state(jobs: usize) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    Store::open(dir.path())?.enqueue(&names("pkg", jobs), Priority::UPLOAD)?;
    Ok(dir)
}

fn start_driver(programs: &Programs, dir: &Path) -> anyhow::Result<Child> {
    Command::new(&programs.driver)
        .args([
            "--concurrency",
            "8",
            "--import-command",
            "/bin/true",
            "--state-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .env_remove("PKGIMPORT_CONFIG")
        .stdin(Stdio::null())
        .spawn()
        .context("starting the driver")
}

fn stop(child: &mut Child) -> anyhow::Result<()> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
    child.wait()?;
    Ok(())
}

/// Jobs the driver finished in `dir` over `seconds`, per second.
fn driver_rate(
    programs: &Programs,
    dir: &Path,
    seconds: u64,
    during: impl FnOnce(),
) -> anyhow::Result<f64> {
    let before = Store::open(dir)?.status()?.queued;
    let mut driver = start_driver(programs, dir)?;
    let started = Instant::now();
    during();
    let left = Duration::from_secs(seconds).saturating_sub(started.elapsed());
    std::thread::sleep(left);
    stop(&mut driver)?;
    let took = started.elapsed().as_secs_f64();
    let st = Store::open(dir)?.status()?;
    if st.queued == 0 {
        bail!("the driver emptied the queue: queue more jobs for a fair measure");
    }
    Ok((before - st.queued - st.running) as f64 / took)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_web(
    programs: &Programs,
    dir: &Path,
    max_in_flight: usize,
) -> anyhow::Result<(Child, SocketAddr)> {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let config = dir.join("web.toml");
    std::fs::write(&config, format!("[web]\nmax_in_flight = {max_in_flight}\n"))?;
    let child = Command::new(&programs.web)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--state-dir")
        .arg(dir)
        .env("PKGIMPORT_CONFIG", &config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .context("starting importer-web")?;
    let started = Instant::now();
    while get_blocking(addr, "/healthz").is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("importer-web did not answer on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((child, addr))
}

/// One GET on a connection of its own: the status and the body.
fn get_blocking(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")?;
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok((status, body))
}

/// What the clients saw: latencies in µs, by status class.
#[derive(Default)]
struct Seen {
    ok: Vec<u32>,
    shed: Vec<u32>,
    other: usize,
    errors: usize,
}

impl Seen {
    fn merge(&mut self, o: Seen) {
        self.ok.extend(o.ok);
        self.shed.extend(o.shed);
        self.other += o.other;
        self.errors += o.errors;
    }
}

/// One client: a keep-alive connection, GETs in a loop over `paths` until `stop`.
async fn client(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    first: usize,
    think: Duration,
    stop: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut conn: Option<BufReader<tokio::net::TcpStream>> = None;
    let mut i = first;
    while !stop.load(Ordering::Relaxed) {
        let path = &paths[i % paths.len()];
        i += 1;
        let c = match conn.take() {
            Some(c) => c,
            None => match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => BufReader::new(s),
                Err(_) => {
                    seen.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let started = Instant::now();
        match request(c, path).await {
            Ok((status, keep, c)) => {
                let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                match status {
                    200..=399 => seen.ok.push(us),
                    503 => seen.shed.push(us),
                    _ => seen.other += 1,
                }
                if keep {
                    conn = Some(c);
                }
            }
            Err(_) => seen.errors += 1,
        }
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
    }
    seen
}

/// One request on a keep-alive connection: the status, whether the connection stays open.
async fn request(
    mut c: BufReader<tokio::net::TcpStream>,
    path: &str,
) -> anyhow::Result<(u16, bool, BufReader<tokio::net::TcpStream>)> {
    c.get_mut()
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: load\r\n\r\n").as_bytes())
        .await?;
    let mut line = String::new();
    c.read_line(&mut line).await?;
    let status: u16 = line.split(' ').nth(1).context("status")?.parse()?;
    let mut length = None;
    let mut keep = true;
    loop {
        line.clear();
        if c.read_line(&mut line).await? == 0 {
            bail!("connection closed in the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').context("header")?;
        let (k, v) = (k.to_ascii_lowercase(), v.trim().to_ascii_lowercase());
        match k.as_str() {
            "content-length" => length = Some(v.parse::<usize>()?),
            "connection" if v == "close" => keep = false,
            "transfer-encoding" => bail!("chunked bodies are not read by this client"),
            _ => {}
        }
    }
    let mut body = vec![0; length.context("no content-length")?];
    c.read_exact(&mut body).await?;
    Ok((status, keep, c))
}

/// `/healthz` every 10 ms until `stop`: latencies in µs, and how many said `busy`.
fn healthz_probe(addr: SocketAddr, stop: Arc<AtomicBool>) -> (Vec<u32>, usize) {
    let mut lat = Vec::new();
    let mut busy = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        if let Ok((_, body)) = get_blocking(addr, "/healthz") {
            lat.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
            if body.starts_with("busy") {
                busy += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (lat, busy)
}

fn pct(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    f64::from(v[i]) / 1000.0
}

/// The delay from a run's end to its package page showing it, `n` times, in ms.
fn delays(addr: SocketAddr, dir: &Path, n: usize) -> anyhow::Result<Vec<u32>> {
    let mut store = Store::open(dir)?;
    let done = RunEnd {
        outcome: Outcome::Success,
        exit_code: Some(0),
        signal: None,
        disposition: Disposition::Done,
    };
    let mut out = Vec::new();
    for i in 0..n {
        let package = PackageName::parse(&format!("probe{}", i % 5))?;
        let path = format!("/packages/{package}");
        let _ = get_blocking(addr, &path);
        store.enqueue(std::slice::from_ref(&package), Priority::MANUAL)?;
        let claim = loop {
            let c = store.claim(1)?.context("nothing to claim")?;
            if c.package == package {
                break c;
            }
            store.finish_run(c.run_id, &done)?;
        };
        store.finish_run(claim.run_id, &done)?;
        let ended = Instant::now();
        let marker = format!("id=\"run-{}\"", claim.run_id);
        loop {
            if let Ok((200, body)) = get_blocking(addr, &path)
                && body.contains(&marker)
            {
                break;
            }
            if ended.elapsed() > Duration::from_secs(60) {
                bail!("run {} never reached {path}", claim.run_id);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        out.push(u32::try_from(ended.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    Ok(out)
}

fn run(plan: &Plan, programs: &Programs) -> anyhow::Result<()> {
    eprintln!("driver alone for {} s...", plan.seconds);
    let alone_dir = state(plan.jobs)?;
    let alone = driver_rate(programs, alone_dir.path(), plan.seconds, || {})?;

    let dir = state(plan.jobs)?;
    let (mut web, addr) = start_web(programs, dir.path(), plan.max_in_flight)?;
    let mut paths: Vec<String> = [
        "/",
        "/queue",
        "/failures",
        "/runs",
        "/actions",
        "/api/v1/status",
        "/api/v1/queue",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    paths.extend((0..50).map(|i| format!("/packages/pkg{i}")));
    let paths = Arc::new(paths);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..plan.clients)
        .map(|c| runtime.spawn(client(addr, paths.clone(), c, plan.think, stop.clone())))
        .collect();
    let probe_stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let s = probe_stop.clone();
        std::thread::spawn(move || healthz_probe(addr, s))
    };
    eprintln!(
        "driver for {} s while {} clients read the pages...",
        plan.seconds, plan.clients
    );
    let loaded_started = Instant::now();
    let loaded = driver_rate(programs, dir.path(), plan.seconds, || {})?;
    stop.store(true, Ordering::Relaxed);
    let loaded_secs = loaded_started.elapsed().as_secs_f64();
    probe_stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for t in tasks {
        seen.merge(runtime.block_on(t)?);
    }
    let (mut health, busy) = probe
        .join()
        .map_err(|_| anyhow::anyhow!("probe panicked"))?;

    // The delay from a run's end to its page, with the clients reading again, then idle.
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..plan.clients)
        .map(|c| runtime.spawn(client(addr, paths.clone(), c, plan.think, stop.clone())))
        .collect();
    let mut loaded_delay = delays(addr, dir.path(), plan.probes)?;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = runtime.block_on(t)?;
    }
    let mut idle_delay = delays(addr, dir.path(), plan.probes)?;
    stop_web(&mut web)?;

    let total = seen.ok.len() + seen.shed.len();
    let mut all: Vec<u32> = seen.ok.iter().chain(&seen.shed).copied().collect();
    println!(
        "importer-web load test (loopback, {} clients, {:?} between requests, {:.1} s, max_in_flight {})",
        plan.clients, plan.think, loaded_secs, plan.max_in_flight
    );
    println!(
        "  requests          {total} ({:.0}/s); 200: {}, shed 503: {}, other: {}, errors: {}",
        total as f64 / loaded_secs,
        seen.ok.len(),
        seen.shed.len(),
        seen.other,
        seen.errors
    );
    println!(
        "  latency (ms)      all p50 {:.2} p99 {:.2}; answered p50 {:.2} p99 {:.2}; shed p99 {:.2}",
        pct(&mut all, 0.5),
        pct(&mut all, 0.99),
        pct(&mut seen.ok, 0.5),
        pct(&mut seen.ok, 0.99),
        pct(&mut seen.shed, 0.99)
    );
    println!(
        "  /healthz (ms)     p50 {:.2} p99 {:.2} max {:.2} over {} probes, {busy} said busy",
        pct(&mut health, 0.5),
        pct(&mut health, 0.99),
        pct(&mut health, 1.0),
        health.len()
    );
    println!(
        "  driver jobs/s     alone {alone:.1}, under load {loaded:.1} ({:+.1}%)",
        (loaded / alone - 1.0) * 100.0
    );
    println!(
        "  run end -> page (ms, {} runs each)  under load p50 {:.1} p99 {:.1}; idle p50 {:.1} p99 {:.1}",
        plan.probes,
        pct(&mut loaded_delay, 0.5),
        pct(&mut loaded_delay, 0.99),
        pct(&mut idle_delay, 0.5),
        pct(&mut idle_delay, 0.99)
    );
    Ok(())
}

fn stop_web(web: &mut Child) -> anyhow::Result<()> {
    stop(web)
}

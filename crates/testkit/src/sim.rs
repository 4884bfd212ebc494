//! lp-sim's control endpoints (`/_sim/...`) over HTTP, and the one helper that sets the
//! faults it injects (`POST /_sim/faults`). Over HTTP, so that a test steers a simulator
//! the same way whether it runs in the test's process or as a child, and so that this
//! crate needs no dependency on the simulator: the settings are anything that serializes
//! to the endpoint's JSON, normally `pkgimport_lp_sim::FaultSettings`.

use std::io::{Read, Write};
use std::net::TcpStream;

/// POSTs a JSON `body` to the control endpoint `path` (`/_sim/...`) of the simulator whose
/// web root is `base_url` (`http://127.0.0.1:<port>`); fails unless the answer is a 2xx.
/// Returns the answer's body.
pub fn control(base_url: &str, path: &str, body: &str) -> std::io::Result<String> {
    let authority = base_url
        .strip_prefix("http://")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .ok_or_else(|| std::io::Error::other(format!("not an http:// URL: {base_url}")))?;
    let mut stream = TcpStream::connect(authority)?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if !response.starts_with("HTTP/1.1 2") {
        return Err(std::io::Error::other(format!(
            "POST {path} {body}: {response}"
        )));
    }
    let (_, answer) = response.split_once("\r\n\r\n").unwrap_or_default();
    Ok(answer.to_owned())
}

/// Sets the faults that the simulator at `base_url` injects from now on (`POST
/// /_sim/faults`): `settings` is `pkgimport_lp_sim::FaultSettings`, or anything with its
/// JSON.
///
/// # Panics
///
/// When the simulator cannot be reached or refuses the settings: a test cannot go on
/// without the faults it asked for.
pub fn set_faults(base_url: &str, settings: &impl serde::Serialize) {
    let body = serde_json::to_string(settings).expect("fault settings serialize to JSON");
    if let Err(e) = control(base_url, "/_sim/faults", &body) {
        panic!("setting lp-sim's faults: {e}");
    }
}

/// Sets only the fault mode of the simulator at `base_url` (`{"mode": ...}`), every other
/// setting at its default: `mode` is a `pkgimport_lp_sim::FaultMode`.
///
/// # Panics
///
/// As [`set_faults`].
pub fn set_fault_mode(base_url: &str, mode: &impl serde::Serialize) {
    set_faults(base_url, &serde_json::json!({ "mode": mode }));
}

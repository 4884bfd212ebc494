//! Injectable faults: outages, flaky proxies, slow answers and mangled bodies.
//!
//! The importer must survive Launchpad's real failure modes, so the simulator reproduces
//! them with Launchpad's real bodies: the haproxy maintenance page for an outage, Apache's
//! offline page for 502, haproxy's pages for 503/504, a bare exception name with an OOPS id
//! for 500. The "corrupting" modes answer 200 but break the contract (truncated JSON, HTML
//! instead of JSON, a wrong content type, a paging link to another host), for the
//! fault-storm tests. The hostile modes (`foreign_file_urls`, `file_scheme_urls`,
//! `foreign_redirect`, `wrong_package_name`) are for the hostile-input tests: answers a
//! compromised or impersonated Launchpad could give. All randomness comes from one seeded
//! generator.

use serde::{Deserialize, Serialize};

/// What the simulator does to API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    /// Answer normally.
    #[default]
    Ok,
    /// Every API and file request answers 503 with the haproxy maintenance page.
    Down,
    /// A fraction `error_rate` of requests answer `status` (default 503).
    Flaky,
    /// JSON answers are cut in half (with a consistent `Content-Length`).
    TruncatedJson,
    /// JSON answers are replaced by an HTML page, with status 200 and `text/html`.
    HtmlBody,
    /// JSON answers keep their body but say `Content-Type: text/plain`.
    WrongContentType,
    /// `next_collection_link`s point at another host.
    ForeignNextLink,
    /// Test-only, hostile input rather than a fault: `sourceFileUrls` answers point at
    /// `localhost:<port>`, which is this simulator under another name, so that only the
    /// client's download allow-list stands between the importer and the fetch (SSRF).
    ForeignFileUrls,
    /// Test-only, hostile input: `sourceFileUrls` answers are `file://` URLs.
    FileSchemeUrls,
    /// Test-only, hostile input: the `+sourcefiles` redirects point at the librarian under
    /// `localhost:<port>`, so the first hop is allowed and the second is not.
    ForeignRedirect,
    /// Test-only, hostile input: `getPublishedSources` entries name another source package
    /// (`impostor-<name>`) than the one they are listed under.
    WrongPackageName,
}

/// The body of `POST /_sim/faults`, e.g.
/// `{"mode":"flaky","error_rate":0.3,"status":502,"retry_after":1,"delay_ms":50}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// The mode.
    #[serde(default)]
    pub mode: FaultMode,
    /// Probability that a request is affected: default 0.3 for `flaky`, 1.0 for the
    /// corrupting modes; ignored by `ok` and `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Status for `flaky` (429, 500, 502, 503 or 504; default 503).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Seconds for a `Retry-After` header on injected errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Delay every non-control answer by this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl FaultSettings {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(rate) = self.error_rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(format!("error_rate {rate} is not between 0 and 1"));
        }
        if let Some(status) = self.status
            && !(400..=599).contains(&status)
        {
            return Err(format!("status {status} is not an error status"));
        }
        if self.delay_ms.is_some_and(|d| d > 600_000) {
            return Err("delay_ms above 10 minutes".into());
        }
        Ok(())
    }

    /// The effective probability of an injected fault.
    pub(crate) fn rate(&self) -> f64 {
        match self.mode {
            FaultMode::Ok => 0.0,
            FaultMode::Down => 1.0,
            FaultMode::Flaky => self.error_rate.unwrap_or(0.3),
            _ => self.error_rate.unwrap_or(1.0),
        }
    }
}

/// An injected error answer.
pub(crate) struct ErrorAnswer {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
    pub(crate) oops_id: Option<String>,
}

pub(crate) const MAINTENANCE_HTML: &str = r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
<head>
  <title>Launchpad is offline for maintenance</title>
</head>
<body>
  <h1>Uh oh!</h1>
  <h2>Launchpad is offline for scheduled maintenance.</h2>
  <p>We'll be back soon. Check @launchpadstatus@ubuntu.social on Mastodon for updates.</p>
  <p>Reload this page or try again in a few minutes</p>
</body>
</html>
"#;

const APACHE_OFFLINE_HTML: &str = r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
<head>
  <title>Launchpad is temporarily unavailable</title>
</head>
<body>
  <h1>Uh oh!</h1>
  <h2>Something has gone wrong. We're sorry!</h2>
  <p>If we are in the middle of an update, Launchpad will be back in a couple of minutes.
     Otherwise, we are working to fix the unexpected problems.</p>
</body>
</html>
"#;

const HAPROXY_UNPLANNED_HTML: &str = r#"<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
<head>
  <title>Launchpad is temporarily unavailable</title>
</head>
<body>
  <h1>Uh oh!</h1>
  <h2>Something has gone wrong. We're sorry!</h2>
  <p>If we are in the middle of an update, Launchpad will be back in a couple of minutes.
     Otherwise, we are working to fix the unexpected problems.</p>
  <p class="sub">Technically, the load balancer took too long to connect to an application server.</p>
</body>
</html>
"#;

const GATEWAY_TIMEOUT_HTML: &str = "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n";

/// The outage answer of `down` mode.
pub(crate) fn down_answer() -> ErrorAnswer {
    ErrorAnswer {
        status: 503,
        content_type: "text/html",
        body: MAINTENANCE_HTML.to_owned(),
        oops_id: None,
    }
}

/// The answer Launchpad's stack gives for `status`.
pub(crate) fn error_answer(status: u16, oops_seed: u64) -> ErrorAnswer {
    let oops = format!("OOPS-{oops_seed:016x}{:016x}", oops_seed.rotate_left(17));
    match status {
        502 => ErrorAnswer {
            status,
            content_type: "text/html",
            body: APACHE_OFFLINE_HTML.to_owned(),
            oops_id: None,
        },
        503 => ErrorAnswer {
            status,
            content_type: "text/html",
            body: HAPROXY_UNPLANNED_HTML.to_owned(),
            oops_id: None,
        },
        504 => ErrorAnswer {
            status,
            content_type: "text/html",
            body: GATEWAY_TIMEOUT_HTML.to_owned(),
            oops_id: None,
        },
        500 => ErrorAnswer {
            status,
            content_type: "text/plain;charset=utf-8",
            body: "AttributeError".to_owned(),
            oops_id: Some(oops),
        },
        429 => ErrorAnswer {
            status,
            content_type: "text/plain",
            body: "Too many requests.\n".to_owned(),
            oops_id: None,
        },
        other => ErrorAnswer {
            status: other,
            content_type: "text/plain",
            body: format!("Simulated error {other}.\n"),
            oops_id: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_from_the_documented_json() {
        let s: FaultSettings = serde_json::from_str(
            r#"{"mode":"flaky","error_rate":0.3,"status":502,"retry_after":1}"#,
        )
        .unwrap();
        assert_eq!(s.mode, FaultMode::Flaky);
        assert_eq!(s.rate(), 0.3);
        assert_eq!(s.status, Some(502));
        let s: FaultSettings = serde_json::from_str(r#"{"mode":"down"}"#).unwrap();
        assert_eq!(s.rate(), 1.0);
        let s: FaultSettings = serde_json::from_str(r#"{"mode":"truncated_json"}"#).unwrap();
        assert_eq!(s.rate(), 1.0);
        assert!(serde_json::from_str::<FaultSettings>(r#"{"mode":"sideways"}"#).is_err());
        assert!(serde_json::from_str::<FaultSettings>(r#"{"mood":"ok"}"#).is_err());
        let bad = FaultSettings {
            error_rate: Some(1.5),
            ..FaultSettings::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn error_answers_look_like_launchpad() {
        assert!(
            down_answer()
                .body
                .contains("<title>Launchpad is offline for maintenance</title>")
        );
        let oops = error_answer(500, 7);
        assert_eq!(oops.body, "AttributeError");
        assert!(oops.oops_id.unwrap().starts_with("OOPS-"));
        assert_eq!(error_answer(502, 0).content_type, "text/html");
    }
}

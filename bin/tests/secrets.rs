//! Secrets never leak: a canary token in the Launchpad credentials file and a canary
//! password in the git remote's URL, and every output of every binary at `RUST_LOG=trace`
//! searched for them: stdout and stderr, `importctl config show`, the driver's run logs,
//! `importctl failures --all --json`, `importctl show`, `importctl runs`, the HTML report,
//! and the one-line errors.

use std::path::Path;
use std::process::Output;

use crate::util::*;

const TOKEN: &str = "CANARYTOKENq7Zx";
const SECRET: &str = "CANARYSECRETm3Wv";
const PASSWORD: &str = "CANARYPASSWORDk9Rt";

fn leaks(text: &str) -> Vec<&'static str> {
    [TOKEN, SECRET, PASSWORD]
        .into_iter()
        .filter(|c| text.contains(c))
        .collect()
}

fn assert_clean(what: &str, text: &str) {
    let found = leaks(text);
    assert!(found.is_empty(), "{what} leaks {found:?}:\n{text}");
}

fn assert_output_clean(what: &str, out: &Output) {
    assert_clean(
        &format!("{what} (stdout)"),
        &String::from_utf8_lossy(&out.stdout),
    );
    assert_clean(
        &format!("{what} (stderr)"),
        &String::from_utf8_lossy(&out.stderr),
    );
}

fn assert_tree_clean(what: &str, dir: &Path) {
    for rel in files_under(dir) {
        let path = dir.join(&rel);
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert_clean(&format!("{what}/{rel}"), &String::from_utf8_lossy(&bytes));
        }
    }
}

#[test]
fn canaries_in_the_credentials_file_and_the_remote_url_never_show() {
    let env = TestEnv::new();
    let sim = env.start_synthetic_sim(2, 1);
    env.use_real_importer();
    let creds = env.root().join("lp-credentials");
    std::fs::write(
        &creds,
        format!(
            "[1]\nconsumer_key = package-importer\nconsumer_secret = \naccess_token = {TOKEN}\naccess_secret = {SECRET}\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The simulator itself as an http git remote: git asks it for info/refs, gets a 404,
    // and says so, URL included.
    let remote = |port: u16| {
        format!(
            "[git]\nremote = \"http://importer:{PASSWORD}@127.0.0.1:{port}/git/{{package}}.git\"\nnetwork_timeout = \"5s\"\n"
        )
    };
    let write_config = |port: u16| {
        env.config_sections("", &remote(port));
        let path = env.root().join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "request_timeout = \"5s\"\n",
            &format!(
                "request_timeout = \"5s\"\ncredentials_file = {:?}\n",
                creds.display().to_string()
            ),
        );
        std::fs::write(&path, text).unwrap();
    };
    write_config(sim.addr().port());
    let trace = |bin: &str, args: &[&str]| {
        env.cmd(bin)
            .args(args)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap()
    };

    let out = trace("importctl", &["config", "show"]);
    assert!(out.status.success(), "{}", dump(&out));
    assert_output_clean("config show", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("127.0.0.1"));

    let out = trace("poll-uploads", &["--initial", "all"]);
    assert!(out.status.success(), "{}", dump(&out));
    assert_output_clean("poll-uploads", &out);

    // Every import fails at the push with git's own error about the URL.
    let out = trace("driver", &["--exit-when-idle"]);
    assert!(out.status.success(), "{}", dump(&out));
    assert_output_clean("driver", &out);
    let failures = trace("importctl", &["failures", "--all", "--json"]);
    assert_output_clean("failures", &failures);
    let failures: serde_json::Value = serde_json::from_slice(&failures.stdout).unwrap();
    assert_eq!(failures.as_array().unwrap().len(), 2, "{failures:#}");
    let signature = failures[0]["signature"].as_str().unwrap().to_owned();
    assert!(signature.contains("git push failed"), "{signature}");
    // The URL is in the run logs, its user info redacted.
    let logs: String = files_under(&env.state().join("logs"))
        .iter()
        .map(|rel| std::fs::read_to_string(env.state().join("logs").join(rel)).unwrap_or_default())
        .collect();
    assert!(logs.contains("http://***@127.0.0.1:"), "{logs}");

    let out = trace("import-one", &["synth-000000"]);
    assert!(!out.status.success(), "{}", dump(&out));
    assert_output_clean("import-one", &out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("import-one: error:"),
        "{}",
        dump(&out)
    );

    // An unreachable remote: connection refused, exit 69.
    write_config(1);
    let out = trace("import-one", &["synth-000001"]);
    assert_eq!(out.status.code(), Some(69), "{}", dump(&out));
    assert_output_clean("import-one, unreachable remote", &out);

    for args in [
        &["show", "synth-000000"][..],
        &["show", "synth-000000", "--json"],
        &["runs", "--json"],
        &["failures"],
        &["status", "--json"],
        &["queue", "--json"],
    ] {
        let out = trace("importctl", args);
        assert_output_clean(&format!("importctl {args:?}"), &out);
    }
    let site = env.root().join("site");
    let out = trace("importctl", &["report", "--out", site.to_str().unwrap()]);
    assert!(out.status.success(), "{}", dump(&out));
    assert_output_clean("report", &out);
    assert_tree_clean("report", &site);
    assert_tree_clean("logs", &env.state().join("logs"));
}

//! `juki net serve` as the national center runs it, a process of its own, with curl as the
//! client of its mutual TLS (what docs/network.md shows): a municipality's batch, its status,
//! an agency's confirmation; no answer without a certificate; SIGTERM stops it cleanly; its
//! request log names peers and routes, never residents.

mod common;

use std::path::Path;
use std::process::Command;

use common::network::{code, pension, PURPOSE};
use common::server_process::ServerProcess;
use juki_net::local::LocalNetwork;
use juki_net::pki::{NodeFiles, Role};
use juki_net::register::MunicipalityCode;

fn chiyoda() -> MunicipalityCode {
    MunicipalityCode::parse("131016").unwrap()
}

fn curl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl must be installed (scripts/test.sh installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_server_process_serves_curl() {
    let dir = tempfile::tempdir().unwrap();
    let net = LocalNetwork::without_server(&dir.path().join("net")).unwrap();
    let crl = net.crl_file().unwrap();
    let server = ServerProcess::start(&net, &crl);

    let node = net.node("chiyoda", &Role::Municipality(chiyoda())).unwrap();
    let files = NodeFiles::in_dir(&node);
    let base = format!("https://{}", net.address());
    let tls_args = [
        "--cert",
        path(&files.cert),
        "--key",
        path(&files.key),
        "--cacert",
        path(&files.ca),
    ];
    let body = format!(
        r#"{{"updates": [{{"seq": 1, "date": "2026-12-01", "event": {{"kind": "new", "code": "{}", "info": {{"name": "住基 花子", "address": "東京都千代田区千代田1-1", "birth": "1980-04-01", "sex": "female"}}}}}}]}}"#,
        code(1)
    );
    let updates_url = format!("{base}/v1/updates");
    let mut args = tls_args.to_vec();
    args.extend([
        "-H",
        "content-type: application/json",
        "--data-binary",
        &body,
        &updates_url,
    ]);
    let (ok, out, err) = curl(&args);
    assert!(ok, "curl: {err}");
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out,
        serde_json::json!({"results": [{"seq": 1, "applied": true}]})
    );
    let status_url = format!("{base}/v1/municipalities/self/status");
    let mut args = tls_args.to_vec();
    args.push(&status_url);
    let (ok, out, err) = curl(&args);
    assert!(ok, "curl: {err}");
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out,
        serde_json::json!({"municipality": "131016", "last_seq": 1})
    );
    // An agency, as docs/network.md shows it (the purpose percent-encoded by curl).
    let pension = NodeFiles::in_dir(&pension(&net));
    let resident_url = format!("{base}/v1/residents/{}", code(1));
    let purpose = format!("purpose={PURPOSE}");
    let (ok, out, err) = curl(&[
        "--cert",
        path(&pension.cert),
        "--key",
        path(&pension.key),
        "--cacert",
        path(&pension.ca),
        "-G",
        "--data-urlencode",
        &purpose,
        &resident_url,
    ]);
    assert!(ok, "curl: {err}");
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["name"], "住基 花子", "{out}");
    assert_eq!(out["status"], "registered", "{out}");
    // Without a certificate: no answer at all.
    let (ok, _, _) = curl(&["--cacert", path(&files.ca), &status_url]);
    assert!(!ok);

    // SIGTERM: a clean stop; the log's lines after the start.
    let log = server.stop().join("\n");
    assert!(
        log.contains("juki-net: municipality 131016 POST /v1/updates 200"),
        "{log}"
    );
    assert!(
        log.contains("GET /v1/municipalities/self/status 200"),
        "{log}"
    );
    // The log names the peers and routes, never the residents.
    assert!(
        !log.contains("花子") && !log.contains(code(1).as_str()),
        "{log}"
    );
}

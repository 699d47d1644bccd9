//! The network's mutual TLS end to end on loopback: a real server ([`juki_net::server::serve`])
//! and real rustls clients (and curl) in one process, node certificates from a real network CA
//! in temporary directories. Who gets in, who is refused, and where: in the handshake (with the
//! alert the client receives) or by the application (403).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use juki_host::resident::MunicipalityCode;
use juki_net::pki::{self, NetworkCa, Role};
use juki_net::server::{self, ServerTls};
use juki_net::tls::{self, NodeCredentials};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const DAY: i64 = 86_400;

struct Network {
    dir: tempfile::TempDir,
    ca: NetworkCa,
    addr: SocketAddr,
    tls: ServerTls,
    server_node: NodeCredentials,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Network {
    /// A CA, the server's node and the server running on 127.0.0.1 with the CA's current CRL.
    async fn start() -> Network {
        let dir = tempfile::tempdir().unwrap();
        let now = pki::now();
        let ca = NetworkCa::init(&dir.path().join("ca"), now).unwrap();
        let server_role = Role::Server {
            name: "national-center".into(),
            dns_names: vec!["localhost".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
        };
        let server_dir = dir.path().join("server");
        ca.issue_node(&server_role, 30, now, &server_dir).unwrap();
        let server_node = NodeCredentials::load(&server_dir).unwrap();
        let crl = tls::crl_der(&ca.crl(now).unwrap()).unwrap();
        let tls = ServerTls::new(tls::server_config(&server_node, vec![crl]).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            listener,
            tls.clone(),
            server::router(),
            async move {
                let _ = stopped.await;
            },
        ));
        Network {
            dir,
            ca,
            addr,
            tls,
            server_node,
            stop: Some(stop),
            task,
        }
    }

    /// A node of `role` with a certificate valid `days` from `now`; its directory.
    fn node(&self, name: &str, role: &Role, days: u32, now: i64) -> PathBuf {
        let dir = self.dir.path().join(name);
        self.ca.issue_node(role, days, now, &dir).unwrap();
        dir
    }

    fn client(&self, name: &str, role: &Role) -> Arc<ClientConfig> {
        let dir = self.node(name, role, 30, pki::now());
        tls::client_config(&NodeCredentials::load(&dir).unwrap()).unwrap()
    }

    /// Publishes a new CRL to the running server (after a revocation).
    fn refresh_crl(&self) {
        let crl = tls::crl_der(&self.ca.crl(pki::now()).unwrap()).unwrap();
        self.tls
            .replace(tls::server_config(&self.server_node, vec![crl]).unwrap());
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

fn municipality(code: &str) -> Role {
    Role::Municipality(MunicipalityCode::parse(code).unwrap())
}

fn administrator() -> Role {
    Role::Administrator {
        name: "運用管理者".into(),
    }
}

/// What a client got: an HTTP answer, or the TLS error that ended the connection.
#[derive(Debug)]
enum Outcome {
    Http(u16, serde_json::Value),
    Tls(rustls::Error),
}

fn tls_error(e: &std::io::Error) -> Option<rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned()
}

/// `GET path` over a new connection with `config`, as HTTP/1.1 on the TLS stream.
async fn get(addr: SocketAddr, config: Arc<ClientConfig>, name: &str, path: &str) -> Outcome {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(name.to_string()).unwrap();
    let mut stream = match TlsConnector::from(config).connect(name, tcp).await {
        Ok(stream) => stream,
        Err(e) => return Outcome::Tls(tls_error(&e).unwrap_or_else(|| panic!("{e}"))),
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    // In TLS 1.3 the client's handshake ends before the server has checked the client's
    // certificate: a refusal arrives as an alert on the first read (or write).
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        return Outcome::Tls(tls_error(&e).unwrap_or_else(|| panic!("{e}")));
    }
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer).await {
        return Outcome::Tls(tls_error(&e).unwrap_or_else(|| panic!("{e}")));
    }
    let text = String::from_utf8(answer).unwrap();
    let status: u16 = text[9..12].parse().unwrap();
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    Outcome::Http(status, serde_json::from_str(body).unwrap())
}

fn assert_refused(outcome: Outcome, alert: AlertDescription) {
    match outcome {
        Outcome::Tls(rustls::Error::AlertReceived(got)) => assert_eq!(got, alert),
        other => panic!("expected the handshake refused with {alert:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_are_admitted_by_role_and_identity() {
    let net = Network::start().await;
    let chiyoda = net.client("chiyoda", &municipality("131016"));
    match get(net.addr, chiyoda.clone(), "127.0.0.1", "/v1/whoami").await {
        Outcome::Http(200, body) => {
            assert_eq!(body["role"], "municipality");
            assert_eq!(body["identity"], "131016");
        }
        other => panic!("{other:?}"),
    }
    // By DNS name too (the server's certificate names localhost).
    assert!(matches!(
        get(net.addr, chiyoda.clone(), "localhost", "/v1/whoami").await,
        Outcome::Http(200, _)
    ));

    let agency = net.client(
        "pension",
        &Role::Agency {
            name: "日本年金機構".into(),
            purposes: vec!["年金・恩給の現況確認".into()],
        },
    );
    match get(net.addr, agency, "127.0.0.1", "/v1/whoami").await {
        Outcome::Http(200, body) => {
            assert_eq!(body["role"], "agency");
            assert_eq!(body["identity"], "日本年金機構");
            assert_eq!(body["purposes"][0], "年金・恩給の現況確認");
        }
        other => panic!("{other:?}"),
    }

    // The administrator's endpoint: 200 for an administrator, 403 for a municipality.
    let admin = net.client("admin", &administrator());
    match get(net.addr, admin, "127.0.0.1", "/v1/admin/ping").await {
        Outcome::Http(200, body) => assert_eq!(body["administrator"], "運用管理者"),
        other => panic!("{other:?}"),
    }
    match get(net.addr, chiyoda, "127.0.0.1", "/v1/admin/ping").await {
        Outcome::Http(403, body) => {
            assert_eq!(body["error"], "forbidden");
            assert!(body["message"].as_str().unwrap().contains("131016"));
        }
        other => panic!("expected 403, got {other:?}"),
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_happen_in_the_handshake() {
    let net = Network::start().await;
    let ca_pem = net.dir.path().join("ca").join(pki::CA_CERT_FILE);
    let roots = {
        let mut roots = RootCertStore::empty();
        let ca = NodeCredentials::load(&net.dir.path().join("server"))
            .unwrap()
            .ca;
        roots.add(ca).unwrap();
        Arc::new(roots)
    };
    assert!(ca_pem.exists());

    // No client certificate.
    let anonymous = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    assert_refused(
        get(net.addr, Arc::new(anonymous), "127.0.0.1", "/v1/whoami").await,
        AlertDescription::CertificateRequired,
    );

    // A certificate from another CA — one with the very same name as the network CA.
    let other = tempfile::tempdir().unwrap();
    let foreign = NetworkCa::init(&other.path().join("ca"), pki::now()).unwrap();
    let node = other.path().join("node");
    foreign
        .issue_node(&municipality("131016"), 30, pki::now(), &node)
        .unwrap();
    let mut creds = NodeCredentials::load(&node).unwrap();
    creds.ca = NodeCredentials::load(&net.dir.path().join("server"))
        .unwrap()
        .ca;
    let foreign_client = tls::client_config(&creds).unwrap();
    // Its signature does not verify under the anchor of that name.
    assert_refused(
        get(net.addr, foreign_client, "127.0.0.1", "/v1/whoami").await,
        AlertDescription::DecryptError,
    );
    // And one from a CA of another name, made by OpenSSL with the node's very subject.
    let other_node = openssl_node(
        other.path(),
        "openssl-node",
        None,
        "/O=住基ネット/OU=municipality/CN=131016",
    );
    let mut creds = NodeCredentials::load(&other_node).unwrap();
    creds.ca = NodeCredentials::load(&net.dir.path().join("server"))
        .unwrap()
        .ca;
    assert_refused(
        get(
            net.addr,
            tls::client_config(&creds).unwrap(),
            "127.0.0.1",
            "/v1/whoami",
        )
        .await,
        AlertDescription::UnknownCA,
    );

    // Signed by the network CA itself, but not a node certificate of the profile (no role): the
    // node profile is checked in the handshake too.
    let ca_dir = net.dir.path().join("ca");
    let no_role = openssl_node(
        other.path(),
        "no-role",
        Some((
            &ca_dir.join(pki::CA_CERT_FILE),
            &ca_dir.join(pki::CA_KEY_FILE),
        )),
        "/O=住基ネット/CN=131016",
    );
    let files = pki::NodeFiles::in_dir(&no_role);
    let cert = rustls::pki_types::CertificateDer::from_pem_file(&files.cert).unwrap();
    assert!(juki_net::tls::PeerIdentity::from_der(&cert).is_err());
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&files.key).unwrap();
    let no_role_client = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(vec![cert], key)
        .unwrap();
    assert_refused(
        get(
            net.addr,
            Arc::new(no_role_client),
            "127.0.0.1",
            "/v1/whoami",
        )
        .await,
        AlertDescription::AccessDenied,
    );

    // The server's own certificate (serverAuth) offered by a client.
    let server_as_client = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(
            vec![net.server_node.cert.clone()],
            net.server_node.key.clone_key(),
        )
        .unwrap();
    assert_refused(
        get(
            net.addr,
            Arc::new(server_as_client),
            "127.0.0.1",
            "/v1/whoami",
        )
        .await,
        AlertDescription::UnsupportedCertificate,
    );

    // A municipality's 電子公印 (documentSigning) offered as a TLS client certificate: a seal
    // certifies documents, it never opens a connection.
    let seal_dir = net.dir.path().join("seal");
    net.ca
        .issue_seal(
            &MunicipalityCode::parse("271276").unwrap(),
            "大阪市北区",
            30,
            pki::now(),
            &seal_dir,
        )
        .unwrap();
    let seal_cert = CertificateDer::from_pem_file(seal_dir.join("seal.pem")).unwrap();
    let seal_key = PrivateKeyDer::from_pem_file(seal_dir.join("seal.key")).unwrap();
    let seal_as_client = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(vec![seal_cert], seal_key)
        .unwrap();
    assert_refused(
        get(
            net.addr,
            Arc::new(seal_as_client),
            "127.0.0.1",
            "/v1/whoami",
        )
        .await,
        AlertDescription::UnsupportedCertificate,
    );

    // Expired: issued 400 days ago for 30 days.
    let old = net.node("old", &municipality("011002"), 30, pki::now() - 400 * DAY);
    let expired = tls::client_config(&NodeCredentials::load(&old).unwrap()).unwrap();
    assert_refused(
        get(net.addr, expired, "127.0.0.1", "/v1/whoami").await,
        AlertDescription::CertificateExpired,
    );

    // Revoked: admitted before, refused once the server has the CRL that lists it.
    let dir = net.node("lost", &municipality("131016"), 30, pki::now());
    let lost = tls::client_config(&NodeCredentials::load(&dir).unwrap()).unwrap();
    assert!(matches!(
        get(net.addr, lost.clone(), "127.0.0.1", "/v1/whoami").await,
        Outcome::Http(200, _)
    ));
    let serial = NodeCredentials::load(&dir).unwrap().node.serial;
    assert!(net.ca.revoke(&serial, pki::now()).unwrap());
    net.refresh_crl();
    assert_refused(
        get(net.addr, lost, "127.0.0.1", "/v1/whoami").await,
        AlertDescription::CertificateRevoked,
    );

    // A client that offers only TLS 1.2, with a valid certificate.
    let good = NodeCredentials::load(&net.node("tls12", &administrator(), 30, pki::now())).unwrap();
    let tls12 = ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![good.cert.clone()], good.key.clone_key())
        .unwrap();
    assert_refused(
        get(net.addr, Arc::new(tls12), "127.0.0.1", "/v1/whoami").await,
        AlertDescription::ProtocolVersion,
    );

    // The client refuses a server that does not have the name dialled.
    let chiyoda = tls::client_config(&good).unwrap();
    match get(net.addr, chiyoda.clone(), "juki.example", "/v1/whoami").await {
        Outcome::Tls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForNameContext { .. },
        ))
        | Outcome::Tls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName,
        )) => {}
        other => panic!("a server under another name: {other:?}"),
    }

    // The server still serves the good ones.
    assert!(matches!(
        get(net.addr, chiyoda, "127.0.0.1", "/v1/admin/ping").await,
        Outcome::Http(200, _)
    ));
    net.stop().await;
}

fn run(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} must be installed (scripts/test.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A node directory `dir/name` made by OpenSSL: a key and a certificate with `subject` and
/// extended key usage clientAuth, signed by the CA `(cert, key)` given, or by a new CA of another
/// name ("Other CA") when none is given.
fn openssl_node(dir: &Path, name: &str, ca: Option<(&Path, &Path)>, subject: &str) -> PathBuf {
    let node = dir.join(name);
    std::fs::create_dir(&node).unwrap();
    let p256 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let (ca_cert, ca_key) = match ca {
        Some((cert, key)) => (cert.to_path_buf(), key.to_path_buf()),
        None => {
            let mut args = vec![
                "req",
                "-x509",
                "-utf8",
                "-subj",
                "/O=Other/CN=Other CA",
                "-days",
                "30",
            ];
            args.extend(p256);
            args.extend(["-keyout", "other-ca.key", "-out", "other-ca.pem"]);
            run("openssl", &args, &node);
            (node.join("other-ca.pem"), node.join("other-ca.key"))
        }
    };
    let mut req = vec!["req", "-new", "-utf8", "-subj", subject];
    req.extend(p256);
    req.extend(["-keyout", pki::NODE_KEY_FILE, "-out", "node.csr"]);
    run("openssl", &req, &node);
    std::fs::write(node.join("ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "node.csr",
            "-CA",
            path(&ca_cert),
            "-CAkey",
            path(&ca_key),
            "-days",
            "30",
            "-extfile",
            "ext",
            "-out",
            pki::NODE_CERT_FILE,
        ],
        &node,
    );
    std::fs::copy(&ca_cert, node.join(pki::CA_CERT_FILE)).unwrap();
    node
}

/// The server fails closed on revocation: with a CRL past its nextUpdate, or with only another
/// CA's CRL (no revocation status for the network's certificates), every client is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_current_crl_everyone_is_refused() {
    let net = Network::start().await;
    let admin = net.client("admin", &administrator());
    assert!(matches!(
        get(net.addr, admin.clone(), "127.0.0.1", "/v1/admin/ping").await,
        Outcome::Http(200, _)
    ));

    // Issued 8 days ago: its nextUpdate (7 days) has passed.
    let stale = tls::crl_der(&net.ca.crl(pki::now() - 8 * DAY).unwrap()).unwrap();
    net.tls
        .replace(tls::server_config(&net.server_node, vec![stale]).unwrap());
    assert_refused(
        get(net.addr, admin.clone(), "127.0.0.1", "/v1/admin/ping").await,
        AlertDescription::UnknownCA,
    );

    // Only the CRL of another CA of the same name: its signature does not verify.
    let other = tempfile::tempdir().unwrap();
    let foreign = NetworkCa::init(&other.path().join("ca"), pki::now()).unwrap();
    let foreign_crl = tls::crl_der(&foreign.crl(pki::now()).unwrap()).unwrap();
    net.tls
        .replace(tls::server_config(&net.server_node, vec![foreign_crl]).unwrap());
    assert_refused(
        get(net.addr, admin.clone(), "127.0.0.1", "/v1/admin/ping").await,
        AlertDescription::HandshakeFailure,
    );

    // A current CRL again: admitted.
    net.refresh_crl();
    assert!(matches!(
        get(net.addr, admin, "127.0.0.1", "/v1/admin/ping").await,
        Outcome::Http(200, _)
    ));
    net.stop().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_is_a_client() {
    let net = Network::start().await;
    let node = net.node("chiyoda", &municipality("131016"), 30, pki::now());
    let files = pki::NodeFiles::in_dir(&node);
    let url = format!("https://127.0.0.1:{}/v1/whoami", net.addr.port());
    let (cert, key, ca) = (
        path(&files.cert).to_string(),
        path(&files.key).to_string(),
        path(&files.ca).to_string(),
    );
    let run = move |extra: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
            args.push(&url);
            curl(&args)
        })
    };
    let (ok, body, err) = run(vec![
        "--cert".into(),
        cert.clone(),
        "--key".into(),
        key.clone(),
        "--cacert".into(),
        ca.clone(),
    ])
    .await
    .unwrap();
    assert!(ok, "curl failed: {err}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["role"], "municipality");
    assert_eq!(body["identity"], "131016");

    // Without its certificate, or limited to TLS 1.2, curl gets nothing.
    let (ok, body, _) = run(vec!["--cacert".into(), ca.clone()]).await.unwrap();
    assert!(!ok && body.is_empty(), "no certificate: {body}");
    let (ok, body, _) = run(vec![
        "--cert".into(),
        cert,
        "--key".into(),
        key,
        "--cacert".into(),
        ca,
        "--tls-max".into(),
        "1.2".into(),
    ])
    .await
    .unwrap();
    assert!(!ok && body.is_empty(), "TLS 1.2: {body}");
    net.stop().await;
}

//! 住基ネット's certification authority (`juki net ca init`, `cert issue|revoke|list`, `crl`):
//! the network's own PKI, whose node certificates name each node's role and identity
//! (`juki_net::pki`, docs/network.md).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use juki_host::clock::display;
use juki_net::pki::{self, seal, NetworkCa, NodeFiles, NodeRecord, Role, RoleKind};

use crate::failure::Result;
use crate::files::write_file;
use crate::output::field;
use crate::{note, out, t};

/// What `juki net cert issue` was asked for.
#[derive(Debug)]
pub struct NodeRequest {
    /// The role.
    pub role: RoleKind,
    /// The code or name.
    pub id: String,
    /// An agency's purposes.
    pub purposes: Vec<String>,
    /// The server's DNS names.
    pub dns: Vec<String>,
    /// The server's IP addresses.
    pub ip: Vec<IpAddr>,
    /// Days of validity.
    pub days: u32,
}

/// The role in words.
fn role_word(role: RoleKind) -> String {
    match role {
        RoleKind::Municipality => t!("net-role-municipality"),
        RoleKind::Agency => t!("net-role-agency"),
        RoleKind::Administrator => t!("net-role-administrator"),
        RoleKind::Server => t!("net-role-server"),
    }
}

/// A record's role, a seal named as such.
fn record_role(r: &NodeRecord) -> String {
    if r.seal {
        t!("net-role-seal")
    } else {
        role_word(r.role)
    }
}

/// `juki net ca init`. Times are the system clock's (TLS checks certificates against it), not
/// `JUKI_TODAY`.
pub fn ca_init(dir: &Path) -> Result<()> {
    let ca = NetworkCa::init(dir, pki::now())?;
    let cert = ca.certificate();
    field(
        &t!("net-ca-certificate-label"),
        t!(
            "net-ca-certificate",
            path = dir.join(pki::CA_CERT_FILE).display().to_string(),
            subject = cert.tbs_certificate.subject.to_string(),
            until = display(unix(&cert.tbs_certificate.validity.not_after))
        ),
    );
    out!(
        "{}",
        t!(
            "net-ca-key",
            path = dir.join(pki::CA_KEY_FILE).display().to_string(),
            index = dir.join(pki::INDEX_FILE).display().to_string()
        )
    );
    Ok(())
}

fn unix(time: &x509_cert::time::Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// `juki net cert issue`.
pub fn cert_issue(ca_dir: &Path, req: NodeRequest, out_dir: &Path) -> Result<()> {
    let ca = NetworkCa::open(ca_dir)?;
    let (dns, ip) = if req.role == RoleKind::Server && req.dns.is_empty() && req.ip.is_empty() {
        (
            vec!["localhost".to_string()],
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        )
    } else {
        (req.dns, req.ip)
    };
    let role = Role::from_parts(req.role, &req.id, req.purposes, dns, ip)?;
    let record = ca.issue_node(&role, req.days, pki::now(), out_dir)?;
    print_record(&record);
    if let Role::Server {
        dns_names,
        ip_addresses,
        ..
    } = &role
    {
        let names: Vec<String> = dns_names
            .iter()
            .cloned()
            .chain(ip_addresses.iter().map(IpAddr::to_string))
            .collect();
        field(&t!("net-cert-names"), names.join(", "));
    }
    let files = NodeFiles::in_dir(out_dir);
    out!(
        "{}",
        t!(
            "net-cert-files",
            key = files.key.display().to_string(),
            cert = files.cert.display().to_string(),
            ca = files.ca.display().to_string()
        )
    );
    Ok(())
}

/// `juki net cert seal`.
pub fn cert_seal(
    ca_dir: &Path,
    code: &juki_host::resident::MunicipalityCode,
    name: &str,
    days: u32,
    out_dir: &Path,
) -> Result<()> {
    let ca = NetworkCa::open(ca_dir)?;
    let record = ca.issue_seal(code, name, days, pki::now(), out_dir)?;
    print_record(&record);
    out!(
        "{}",
        t!(
            "net-cert-seal-files",
            name = name,
            key = out_dir.join(seal::SEAL_KEY_FILE).display().to_string(),
            cert = out_dir.join(seal::SEAL_CERT_FILE).display().to_string()
        )
    );
    Ok(())
}

fn print_record(r: &NodeRecord) {
    field(&t!("net-cert-serial"), &r.serial);
    field(&t!("net-cert-role"), record_role(r));
    field(&t!("net-cert-identity"), &r.identity);
    for p in &r.purposes {
        field(&t!("net-cert-purpose"), p);
    }
    field(&t!("net-cert-until"), display(r.not_after));
}

/// `juki net cert revoke`.
pub fn cert_revoke(ca_dir: &Path, serial: &str) -> Result<()> {
    let ca = NetworkCa::open(ca_dir)?;
    if ca.revoke(serial, pki::now())? {
        out!(
            "{}",
            t!(
                "net-cert-revoked",
                serial = serial.trim().to_ascii_uppercase()
            )
        );
    } else {
        out!(
            "{}",
            t!(
                "net-cert-already-revoked",
                serial = serial.trim().to_ascii_uppercase()
            )
        );
    }
    Ok(())
}

/// `juki net cert list`.
pub fn cert_list(ca_dir: &Path) -> Result<()> {
    let ca = NetworkCa::open(ca_dir)?;
    let records = ca.records()?;
    if records.is_empty() {
        out!("{}", t!("net-cert-none"));
    }
    let now = pki::now();
    for r in records {
        let state = match r.revoked_at {
            Some(at) => t!("net-cert-state-revoked", date = display(at)),
            None if r.not_after < now => t!("net-cert-state-expired"),
            None => t!("net-cert-state-valid"),
        };
        let purposes = if r.purposes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", r.purposes.join(", "))
        };
        out!(
            "{}",
            t!(
                "net-cert-line",
                serial = r.serial.as_str(),
                role = record_role(&r),
                identity = format!("{}{purposes}", r.identity),
                until = display(r.not_after),
                state = state
            )
        );
    }
    Ok(())
}

/// `juki net crl`.
pub fn crl(ca_dir: &Path, out_file: &Path) -> Result<()> {
    let ca = NetworkCa::open(ca_dir)?;
    let now = pki::now();
    let crl = ca.crl(now)?;
    write_file(out_file, pki::crl_pem(&crl)?.as_bytes())?;
    let revoked = crl
        .tbs_cert_list
        .revoked_certificates
        .as_ref()
        .map_or(0, Vec::len);
    out!(
        "{}",
        t!(
            "net-crl-written",
            path = out_file.display().to_string(),
            revoked = revoked,
            next_update = display(now + i64::from(pki::CRL_VALID_DAYS) * 86_400)
        )
    );
    Ok(())
}

/// `juki net confirm`: an agency's confirmation of a resident (本人確認情報の提供), over mutual
/// TLS; the server checks the purpose against the agency's certificate and records it.
pub fn confirm(
    node: &Path,
    server: &str,
    purpose: &str,
    code: &juki_host::resident_code::ResidentCode,
) -> Result<()> {
    let mut client = juki_net::client::NetClient::from_dir(node, server)?;
    let c = client.confirm(code, purpose)?;
    out!("{}", t!("net-confirmed", purpose = purpose));
    crate::output::field(&t!("label-resident-code"), &c.resident.code);
    crate::output::print_four_info(&c.resident.info);
    crate::output::field(&t!("label-net-held-by"), &c.resident.municipality);
    let status = match &c.resident.status {
        juki_net::register::Status::Registered => t!("net-status-registered"),
        juki_net::register::Status::MovingOut { to } => {
            t!("net-status-moving-out", to = to.to_string())
        }
        juki_net::register::Status::Removed => t!("net-status-removed"),
        juki_net::register::Status::CodeReplaced { by } => {
            t!("net-status-replaced", by = by.to_string())
        }
    };
    crate::output::field(&t!("label-net-status"), status);
    crate::output::field(&t!("label-net-provision"), format_args!("#{}", c.provision));
    Ok(())
}

/// `juki net serve`: the national server, until SIGINT or SIGTERM; what it does goes to
/// standard error (the request log too), standard output stays empty.
pub fn serve(options: juki_net::service::ServeOptions) -> Result<()> {
    use juki_net::service::{self, ServeEvent};
    let log = |event: ServeEvent| match event {
        ServeEvent::Migrated {
            schema_version,
            applied,
        } => note!(
            "{}",
            t!(
                "net-serve-migrated",
                version = schema_version,
                applied = applied
            )
        ),
        ServeEvent::Listening { identity, address } => note!(
            "{}",
            t!(
                "net-serve-listening",
                identity = identity,
                address = address.to_string()
            )
        ),
        ServeEvent::ShuttingDown => note!("{}", t!("net-serve-shutting-down")),
        ServeEvent::Stopped => note!("{}", t!("net-serve-stopped")),
        ServeEvent::ListeningForResidents { address } => note!(
            "{}",
            t!("net-serve-residents", address = address.to_string())
        ),
        ServeEvent::LogKeyCreated { public } => note!(
            "{}",
            t!("net-serve-log-key", public = public.display().to_string())
        ),
        // The request log is for the operators' tools: one fixed English form.
        ServeEvent::Request(line) => note!("juki-net: {line}"),
        ServeEvent::LogAppendFailed(detail) => {
            note!("{}", t!("net-serve-log-append-failed", detail = detail))
        }
    };
    Ok(service::run_until_signal(&options, &log)?)
}

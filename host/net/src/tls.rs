//! Mutually authenticated TLS 1.3 between the nodes (rustls with the `ring` provider), and the
//! verified peer's identity.
//!
//! - [`server_config`]: the national center's server. TLS 1.3 only; every client must present
//!   a certificate of the network CA (the one trust anchor), valid now and not listed in the
//!   CA's CRL (a current CRL is required: one past its nextUpdate refuses everyone, fail
//!   closed). Refused **in the handshake**, before any application data: no certificate
//!   (alert `certificate_required`), another CA's (`unknown_ca`), revoked
//!   (`certificate_revoked`), expired (`certificate_expired`), a TLS 1.2 client
//!   (`protocol_version`), a certificate of the network CA that is not a client node's
//!   certificate of the profile (`access_denied`).
//! - [`client_config`]: a municipality's, agency's or administrator's client. TLS 1.3 only,
//!   presents the node's certificate, trusts only the network CA (the server's certificate must
//!   name the address dialled).
//! - [`PeerIdentity`]: the role and identity read from the verified client certificate
//!   ([`crate::pki::NodeCertificate`]); [`PeerIdentity::require`] is the role check an
//!   endpoint makes (the server answers 403 before reading the request's body).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore,
    ServerConfig, SignatureScheme,
};
use serde::Serialize;
use x509_cert::crl::CertificateList;
use x509_cert::der::Encode;

use crate::pki::{NodeCertificate, NodeFiles, PkiError, Role, RoleKind};

/// What went wrong setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The PKI: a node certificate that does not follow the profile, a file not readable.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match its certificate).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The certificate verifier could not be built (e.g. a CRL that does not parse).
    #[error("TLS certificate verifier: {0}")]
    Verifier(String),
    /// The node's certificate is not for this side of the connection.
    #[error("a {found} certificate cannot be used for {wanted}")]
    WrongRole {
        /// The role found.
        found: RoleKind,
        /// What it was to be used for.
        wanted: &'static str,
    },
    /// A server without a CRL could not refuse revoked certificates.
    #[error("the server needs the network CA's CRL (juki net crl) to refuse revoked certificates")]
    NoCrl,
}

/// The result of this module.
pub type Result<T, E = TlsError> = std::result::Result<T, E>;

/// The crypto provider of every configuration here: rustls's `ring` provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The ALPN protocols the server offers: HTTP/2 and HTTP/1.1.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

fn pem_err(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A node's key and certificate with the network CA's certificate, loaded from its directory.
pub struct NodeCredentials {
    /// The node's certificate, DER.
    pub cert: CertificateDer<'static>,
    /// The node's private key (PKCS#8).
    pub key: PrivateKeyDer<'static>,
    /// The network CA's certificate: the one trust anchor.
    pub ca: CertificateDer<'static>,
    /// What the node's certificate says.
    pub node: NodeCertificate,
}

impl std::fmt::Debug for NodeCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCredentials")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl NodeCredentials {
    /// Loads the node directory `dir` ([`crate::pki::NetworkCa::issue_node`]).
    pub fn load(dir: &Path) -> Result<NodeCredentials> {
        NodeCredentials::from_files(&NodeFiles::in_dir(dir))
    }

    /// Loads a node's files.
    pub fn from_files(files: &NodeFiles) -> Result<NodeCredentials> {
        let cert =
            CertificateDer::from_pem_file(&files.cert).map_err(|e| pem_err(&files.cert, e))?;
        let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem_err(&files.key, e))?;
        let ca = CertificateDer::from_pem_file(&files.ca).map_err(|e| pem_err(&files.ca, e))?;
        let node = NodeCertificate::from_der(&cert)?;
        Ok(NodeCredentials {
            cert,
            key,
            ca,
            node,
        })
    }

    fn roots(&self) -> Result<Arc<RootCertStore>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone())?;
        Ok(Arc::new(roots))
    }
}

/// A CRL as rustls takes it.
pub fn crl_der(crl: &CertificateList) -> Result<CertificateRevocationListDer<'static>> {
    let der = crl
        .to_der()
        .map_err(|e| PkiError::Crypto(format!("the CRL: {e}")))?;
    Ok(CertificateRevocationListDer::from(der))
}

/// Reads a CRL file, PEM (`X509 CRL`, as `juki net crl` writes it) or DER.
pub fn load_crl(path: &Path) -> Result<CertificateRevocationListDer<'static>> {
    let bytes = std::fs::read(path).map_err(|e| pem_err(path, e))?;
    if bytes.starts_with(b"-----") {
        CertificateRevocationListDer::from_pem_slice(&bytes).map_err(|e| pem_err(path, e))
    } else {
        Ok(CertificateRevocationListDer::from(bytes))
    }
}

/// The server's configuration: TLS 1.3 only, its own certificate (role `server`), client
/// certificates required, from the network CA only, checked against `crls` (at least one: the
/// CA's current CRL; an expired CRL refuses every client).
pub fn server_config(
    node: &NodeCredentials,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<ServerConfig>> {
    if node.node.role.kind() != RoleKind::Server {
        return Err(TlsError::WrongRole {
            found: node.node.role.kind(),
            wanted: "the server",
        });
    }
    if crls.is_empty() {
        return Err(TlsError::NoCrl);
    }
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(node.roots()?, provider.clone())
        .with_crls(crls)
        .only_check_end_entity_revocation()
        .enforce_revocation_expiration()
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(NodeClientVerifier { webpki: verifier }))
        .with_single_cert(vec![node.cert.clone()], node.key.clone_key())?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The server's configuration for residents (開示請求): TLS 1.3 only, its own certificate, no
/// client certificate asked (a resident proves who they are with the card inside the request,
/// bound to this connection: `server::ChannelBinding`).
pub fn public_server_config(node: &NodeCredentials) -> Result<Arc<ServerConfig>> {
    if node.node.role.kind() != RoleKind::Server {
        return Err(TlsError::WrongRole {
            found: node.node.role.kind(),
            wanted: "the server",
        });
    }
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![node.cert.clone()], node.key.clone_key())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A resident's client configuration: TLS 1.3 only, the server's certificate checked against
/// the network CA `ca` (PEM file), no client certificate.
pub fn resident_client_config(ca: &std::path::Path) -> Result<Arc<ClientConfig>> {
    let ca = CertificateDer::from_pem_file(ca).map_err(|e| pem_err(ca, e))?;
    let mut roots = RootCertStore::empty();
    roots.add(ca)?;
    let provider = provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_webpki_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server's client verifier: webpki's (chain to the network CA, validity, CRL), then the
/// node profile: a certificate of the network CA that is not a client node's certificate
/// ([`NodeCertificate::from_der`], any role but `server`) is refused in the handshake too
/// (alert `access_denied`).
#[derive(Debug)]
struct NodeClientVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for NodeClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .webpki
            .verify_client_cert(end_entity, intermediates, now)?;
        match NodeCertificate::from_der(end_entity) {
            Ok(node) if node.role.kind() != RoleKind::Server => Ok(verified),
            _ => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A client's configuration: TLS 1.3 only, the node's certificate (a municipality, an agency or
/// an administrator), trusting the network CA alone. ALPN HTTP/1.1.
pub fn client_config(node: &NodeCredentials) -> Result<Arc<ClientConfig>> {
    if node.node.role.kind() == RoleKind::Server {
        return Err(TlsError::WrongRole {
            found: RoleKind::Server,
            wanted: "a client",
        });
    }
    let provider = provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(node.roots()?, provider.clone())
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(vec![node.cert.clone()], node.key.clone_key())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The verified peer of a connection: who the client's certificate says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Role and identity.
    pub role: Role,
    /// The certificate's serial number (hex).
    pub serial: String,
    /// The certificate's notAfter, unix time.
    pub not_after: i64,
}

/// The JSON form of a [`PeerIdentity`] (`GET /v1/whoami`).
#[derive(Debug, Serialize)]
struct PeerJson<'a> {
    role: RoleKind,
    identity: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    purposes: &'a [String],
    serial: &'a str,
    not_after: i64,
}

impl Serialize for PeerIdentity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        PeerJson {
            role: self.kind(),
            identity: self.identity(),
            purposes: self.purposes(),
            serial: &self.serial,
            not_after: self.not_after,
        }
        .serialize(s)
    }
}

/// An endpoint's refusal of a peer's role (the server answers 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{actual} {identity} may not use this endpoint (roles allowed: {allowed})", allowed = .allowed.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "))]
pub struct RoleRefused {
    /// The roles the endpoint allows.
    pub allowed: Vec<RoleKind>,
    /// The peer's role.
    pub actual: RoleKind,
    /// The peer's identity.
    pub identity: String,
}

impl PeerIdentity {
    /// The identity of the end-entity certificate in `der` (already verified by the TLS
    /// stack), refused unless it is exactly a node certificate of the profile.
    pub fn from_der(der: &[u8]) -> Result<PeerIdentity, PkiError> {
        let node = NodeCertificate::from_der(der)?;
        Ok(PeerIdentity {
            role: node.role,
            serial: node.serial,
            not_after: node.not_after,
        })
    }

    /// The identity of a connection's peer from its certificates (`peer_certificates()` of a
    /// rustls connection, end entity first); `None` without one.
    pub fn from_peer_certificates(
        certs: Option<&[CertificateDer<'_>]>,
    ) -> Result<PeerIdentity, PkiError> {
        let first = certs.and_then(<[_]>::first).ok_or_else(|| {
            PkiError::NotANodeCertificate("the peer presented no certificate".into())
        })?;
        PeerIdentity::from_der(first)
    }

    /// The role.
    pub fn kind(&self) -> RoleKind {
        self.role.kind()
    }

    /// The identity: a municipality's code, another node's name.
    pub fn identity(&self) -> &str {
        self.role.identity()
    }

    /// An agency's legal purposes (empty for the other roles).
    pub fn purposes(&self) -> &[String] {
        self.role.purposes()
    }

    /// Whether the peer is an agency whose certificate allows `purpose`.
    pub fn may_ask_for(&self, purpose: &str) -> bool {
        self.purposes().iter().any(|p| p == purpose)
    }

    /// Allows the peer only if its role is one of `allowed`.
    pub fn require(&self, allowed: &[RoleKind]) -> Result<(), RoleRefused> {
        if allowed.contains(&self.kind()) {
            Ok(())
        } else {
            Err(RoleRefused {
                allowed: allowed.to_vec(),
                actual: self.kind(),
                identity: self.identity().to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{self, NetworkCa};
    use juki_host::resident::MunicipalityCode;

    #[test]
    fn configurations_fit_the_node_and_role_checks_refuse() {
        let d = tempfile::tempdir().unwrap();
        let now = pki::now();
        let ca = NetworkCa::init(&d.path().join("ca"), now).unwrap();
        let muni = Role::Municipality(MunicipalityCode::parse("131016").unwrap());
        ca.issue_node(&muni, 30, now, &d.path().join("m")).unwrap();
        let server = Role::Server {
            name: "center".into(),
            dns_names: vec!["localhost".into()],
            ip_addresses: vec![],
        };
        ca.issue_node(&server, 30, now, &d.path().join("s"))
            .unwrap();
        let m = NodeCredentials::load(&d.path().join("m")).unwrap();
        let s = NodeCredentials::load(&d.path().join("s")).unwrap();
        let crl = crl_der(&ca.crl(now).unwrap()).unwrap();

        assert!(client_config(&m).is_ok());
        assert!(matches!(client_config(&s), Err(TlsError::WrongRole { .. })));
        assert!(server_config(&s, vec![crl.clone()]).is_ok());
        assert!(matches!(
            server_config(&m, vec![crl.clone()]),
            Err(TlsError::WrongRole { .. })
        ));
        assert!(matches!(server_config(&s, vec![]), Err(TlsError::NoCrl)));
        assert!(
            server_config(&s, vec![CertificateRevocationListDer::from(vec![0x30, 0])]).is_err()
        );

        let peer = PeerIdentity::from_der(&m.cert).unwrap();
        assert_eq!(peer.identity(), "131016");
        assert!(peer.require(&[RoleKind::Municipality]).is_ok());
        let refused = peer.require(&[RoleKind::Administrator]).unwrap_err();
        assert_eq!(refused.actual, RoleKind::Municipality);
        assert!(!peer.may_ask_for("年金・恩給の現況確認"));
        let json = serde_json::to_value(&peer).unwrap();
        assert_eq!(json["role"], "municipality");
        assert_eq!(json["identity"], "131016");
        assert!(json.get("purposes").is_none());
        assert!(PeerIdentity::from_peer_certificates(None).is_err());

        // The CRL file as `juki net crl` writes it reads back, PEM or DER.
        let path = d.path().join("crl.pem");
        std::fs::write(&path, pki::crl_pem(&ca.crl(now).unwrap()).unwrap()).unwrap();
        assert!(load_crl(&path).is_ok());
    }
}

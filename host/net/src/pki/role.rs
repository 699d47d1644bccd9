//! The four roles of a node, a role with its identity, and the checks of what it names.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use juki_host::resident::MunicipalityCode;

use super::{PkiError, Result, MAX_IDENTITY_CHARS, MAX_PURPOSES, MAX_PURPOSE_CHARS};

/// The four roles of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleKind {
    /// A municipality's communication server (市町村CS).
    Municipality,
    /// An agency that may ask for 本人確認情報 for its legal purposes.
    Agency,
    /// An administrator of the network.
    Administrator,
    /// The national center's server (指定情報処理機関).
    Server,
}

impl RoleKind {
    /// Every role.
    pub const ALL: [RoleKind; 4] = [
        RoleKind::Municipality,
        RoleKind::Agency,
        RoleKind::Administrator,
        RoleKind::Server,
    ];

    /// As written in the subject's `OU` (and on the command line).
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Municipality => "municipality",
            RoleKind::Agency => "agency",
            RoleKind::Administrator => "administrator",
            RoleKind::Server => "server",
        }
    }

    /// The role written `text`.
    pub fn parse(text: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether the role is the TLS server's (`serverAuth`) rather than a client's.
    pub fn is_server(self) -> bool {
        self == RoleKind::Server
    }
}

impl std::fmt::Display for RoleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's role with its identity: what its certificate says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A municipality, by its 地方公共団体コード.
    Municipality(MunicipalityCode),
    /// An agency, by name, with the legal purposes it may ask for.
    Agency {
        /// The agency's name.
        name: String,
        /// Its legal purposes (at least one, no duplicates).
        purposes: Vec<String>,
    },
    /// An administrator, by name.
    Administrator {
        /// The administrator's name.
        name: String,
    },
    /// The national center's server, by name, with the names it answers to.
    Server {
        /// The server's name.
        name: String,
        /// DNS names in subjectAltName.
        dns_names: Vec<String>,
        /// IP addresses in subjectAltName.
        ip_addresses: Vec<IpAddr>,
    },
}

impl Role {
    /// Which role.
    pub fn kind(&self) -> RoleKind {
        match self {
            Role::Municipality(_) => RoleKind::Municipality,
            Role::Agency { .. } => RoleKind::Agency,
            Role::Administrator { .. } => RoleKind::Administrator,
            Role::Server { .. } => RoleKind::Server,
        }
    }

    /// The identity in the subject's `CN`: the code or the name.
    pub fn identity(&self) -> &str {
        match self {
            Role::Municipality(code) => code.as_str(),
            Role::Agency { name, .. }
            | Role::Administrator { name }
            | Role::Server { name, .. } => name,
        }
    }

    /// An agency's purposes; empty for every other role.
    pub fn purposes(&self) -> &[String] {
        match self {
            Role::Agency { purposes, .. } => purposes,
            _ => &[],
        }
    }

    /// The role of kind `kind` for `identity` (a code or a name), with an agency's `purposes`
    /// and a server's names, checked as [`Role::check`] does. For the command line.
    pub fn from_parts(
        kind: RoleKind,
        identity: &str,
        purposes: Vec<String>,
        dns_names: Vec<String>,
        ip_addresses: Vec<IpAddr>,
    ) -> Result<Role> {
        if kind != RoleKind::Agency && !purposes.is_empty() {
            return Err(PkiError::InvalidInput(format!(
                "only an agency's certificate carries purposes, not a {kind}'s"
            )));
        }
        if kind != RoleKind::Server && !(dns_names.is_empty() && ip_addresses.is_empty()) {
            return Err(PkiError::InvalidInput(format!(
                "only the server's certificate carries DNS names and IP addresses, not a {kind}'s"
            )));
        }
        let role = match kind {
            RoleKind::Municipality => Role::Municipality(
                MunicipalityCode::parse(identity)
                    .map_err(|e| PkiError::InvalidInput(e.to_string()))?,
            ),
            RoleKind::Agency => Role::Agency {
                name: identity.to_string(),
                purposes,
            },
            RoleKind::Administrator => Role::Administrator {
                name: identity.to_string(),
            },
            RoleKind::Server => Role::Server {
                name: identity.to_string(),
                dns_names,
                ip_addresses,
            },
        };
        role.check()?;
        Ok(role)
    }

    /// Checks what a certificate can carry: names of 1 to [`MAX_IDENTITY_CHARS`] characters
    /// without control characters; an agency's 1 to [`MAX_PURPOSES`] distinct purposes of at
    /// most [`MAX_PURPOSE_CHARS`] characters; at least one DNS name or IP address for the server.
    pub fn check(&self) -> Result<()> {
        check_text("the identity", self.identity(), MAX_IDENTITY_CHARS)?;
        match self {
            Role::Agency { purposes, .. } => {
                if purposes.is_empty() || purposes.len() > MAX_PURPOSES {
                    return Err(PkiError::InvalidInput(format!(
                        "an agency's certificate names 1 to {MAX_PURPOSES} legal purposes \
                         (e.g. 年金・恩給の現況確認), not {}",
                        purposes.len()
                    )));
                }
                for (i, p) in purposes.iter().enumerate() {
                    check_text("a purpose", p, MAX_PURPOSE_CHARS)?;
                    if purposes[..i].contains(p) {
                        return Err(PkiError::InvalidInput(format!(
                            "the purpose \"{p}\" is given twice"
                        )));
                    }
                }
            }
            Role::Server {
                dns_names,
                ip_addresses,
                ..
            } => {
                if dns_names.is_empty() && ip_addresses.is_empty() {
                    return Err(PkiError::InvalidInput(
                        "the server's certificate needs at least one DNS name or IP address \
                         (e.g. localhost, 127.0.0.1)"
                            .into(),
                    ));
                }
                for dns in dns_names {
                    if dns.is_empty()
                        || dns.len() > 253
                        || !dns
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                    {
                        return Err(PkiError::InvalidInput(format!(
                            "\"{dns}\" is not a DNS name"
                        )));
                    }
                }
            }
            Role::Municipality(_) | Role::Administrator { .. } => {}
        }
        Ok(())
    }
}

/// A name that goes into a certificate: 1 to `max` characters, no control characters, no
/// space at either end.
pub(super) fn check_text(what: &str, value: &str, max: usize) -> Result<()> {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(PkiError::InvalidInput(format!(
            "{what} must be 1 to {max} characters long, not {chars}: \"{value}\""
        )));
    }
    if value.chars().any(char::is_control) || value.trim() != value {
        return Err(PkiError::InvalidInput(format!(
            "{what} must not contain control characters or begin or end with a space: \
                 {value:?}"
        )));
    }
    Ok(())
}

//! Operators' roles (役割), decided by the municipality when it registers an operator, and the
//! one table of what each role may do ([`allowed`]).
//!
//! | role | may |
//! |---|---|
//! | `clerk` (窓口担当) | issue, identify, reset-pin, update, change-code, suspend, resume, jpki-issue, jpki-revoke, move-out, wide-area copy, net-sync (and retry) |
//! | `supervisor` (監督者) | everything: also terminate, operator add / unlock / card / role, pending resolve, reading the audit trail |
//! | `auditor` (監査担当) | reading the audit trail (audit show, audit verify) only |
//!
//! Every operator may log in. A refusal is audited ([`crate::Session::authorize`]).

use std::fmt;

use super::Operation;

/// An operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 窓口担当: the counter's daily operations on residents' cards.
    Clerk,
    /// 監督者: everything, including what changes who may work at the counter.
    Supervisor,
    /// 監査担当: reads the audit trail, nothing else.
    Auditor,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Clerk, Role::Supervisor, Role::Auditor];

    /// The name stored in the database and shown (stable: it is signed in operator card
    /// bindings).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
        }
    }

    /// The role stored as `text`.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const EVERYONE: &[Role] = &[Role::Clerk, Role::Supervisor, Role::Auditor];
const COUNTER_WORK: &[Role] = &[Role::Clerk, Role::Supervisor];
const SUPERVISOR: &[Role] = &[Role::Supervisor];
const AUDIT: &[Role] = &[Role::Supervisor, Role::Auditor];

/// The roles allowed to do `op`: the whole table, in one place.
pub fn allowed(op: Operation) -> &'static [Role] {
    use Operation as O;
    match op {
        O::Login => EVERYONE,
        O::Issue
        | O::Identify
        | O::ResetPin
        | O::Update
        | O::ChangeCode
        | O::Suspend
        | O::Resume
        | O::JpkiIssue
        | O::JpkiRevoke
        | O::MoveOut
        | O::NetSync
        | O::WideAreaCopy => COUNTER_WORK,
        O::Terminate
        | O::OperatorAdd
        | O::OperatorUnlock
        | O::OperatorCard
        | O::OperatorRole
        | O::PendingResolve => SUPERVISOR,
        O::AuditRead => AUDIT,
    }
}

/// Whether `role` may do `op`.
pub fn may(role: Role, op: Operation) -> bool {
    allowed(op).contains(&role)
}

/// The reason stored in the audit trail when `role` may not do `op`
/// ([`crate::Session::authorize`]): `role clerk may not terminate`. It is part of a hashed
/// record, so it stays as it is, in the stored names of the role and the operation; displays
/// read it back with [`parse_refusal`] and say it in their own language.
pub fn refusal_reason(role: Role, op: Operation) -> String {
    format!("role {role} may not {op}")
}

/// The role and operation of a reason written by [`refusal_reason`].
pub fn parse_refusal(reason: &str) -> Option<(Role, Operation)> {
    let (role, op) = reason.strip_prefix("role ")?.split_once(" may not ")?;
    Some((Role::parse(role)?, Operation::parse(op)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        for op in Operation::ALL {
            assert!(may(Role::Supervisor, op), "a supervisor may {op}");
            assert!(!allowed(op).is_empty());
        }
        assert!(!may(Role::Clerk, Operation::Terminate));
        assert!(!may(Role::Clerk, Operation::OperatorAdd));
        assert!(!may(Role::Clerk, Operation::AuditRead));
        assert!(may(Role::Clerk, Operation::Issue));
        assert!(!may(Role::Auditor, Operation::Issue));
        assert!(may(Role::Auditor, Operation::AuditRead));
        for op in Operation::ALL {
            if !matches!(op, Operation::Login | Operation::AuditRead) {
                assert!(!may(Role::Auditor, op), "an auditor may not {op}");
            }
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert!(!may(Role::Clerk, Operation::OperatorRole));
        assert_eq!(allowed(Operation::OperatorRole), [Role::Supervisor]);
    }

    #[test]
    fn refusal_reasons_read_back() {
        assert_eq!(
            refusal_reason(Role::Clerk, Operation::Terminate),
            "role clerk may not terminate"
        );
        for r in Role::ALL {
            for op in Operation::ALL {
                assert_eq!(parse_refusal(&refusal_reason(r, op)), Some((r, op)));
            }
        }
        assert_eq!(parse_refusal("role clerk may not fly"), None);
        assert_eq!(parse_refusal("locked out until 2026-04-01T00:00:00Z"), None);
    }
}

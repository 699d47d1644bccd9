//! The `juki` command: arguments, prompts, messages and exit codes for each audience, and the demo
//! of a card's whole life. The layers under it ([`juki_host`], [`juki_jpki`], [`juki_counter`])
//! never prompt, print or exit.
//!
//! One module per audience — [`citizen`] (with the agency's checks), [`counter`], [`jpki_ca`],
//! [`authority`], [`net_ca`] (住基ネット's CA), [`net_log`] (its provision log) — on shared plumbing: [`args`] (the command line), [`card_access`], [`files`],
//! [`pin_input`] (prompts), [`values`] (typed arguments), [`output`], [`i18n`] (the message catalogs), [`failure`] (errors,
//! their messages and exit codes). The audiences never use each other; [`run`] dispatches to
//! them.

pub mod args;
pub mod authority;
pub mod card_access;
pub mod citizen;
pub mod counter;
pub mod demo;
pub mod disclosure;
pub mod failure;
pub mod files;
pub mod i18n;
pub mod jpki_ca;
pub mod net_ca;
pub mod net_log;
pub mod output;
pub mod pin_input;
pub mod values;

use crate::args::{
    AuthorityCommand, CaCommand, CardCommand, Cli, Command, JpkiCommand, NetCaCommand,
    NetCertCommand, NetCommand, NetLogCommand, PinCommand,
};
use crate::card_access::open_card;
use crate::failure::Result;

/// Runs one command.
pub fn run(cli: Cli) -> Result<()> {
    let reader = cli.reader.as_deref();
    match cli.command {
        Command::Readers => citizen::readers(),
        Command::Status => citizen::status(&mut open_card(reader, false)?),
        Command::Info => citizen::info(&mut open_card(reader, false)?),
        Command::Pin { command } => match command {
            PinCommand::Status => citizen::pin_status(&mut open_card(reader, false)?),
            PinCommand::Change { pin } => {
                citizen::pin_change(&mut open_card(reader, false)?, pin.into())
            }
        },
        Command::Sign {
            file,
            out,
            attached,
        } => citizen::sign(&mut open_card(reader, false)?, &file, out, attached),
        Command::Verify { paths, trust, out } => citizen::verify(&paths, &trust, out),
        Command::Auth { challenge, out } => {
            citizen::auth(&mut open_card(reader, false)?, &challenge, out)
        }
        Command::Disclosure {
            server,
            ca_cert,
            log_key,
            state,
            witness_head,
        } => disclosure::disclosure(
            &mut open_card(reader, false)?,
            &disclosure::Trust {
                server: &server,
                ca: &ca_cert,
                log_key: &log_key,
                state,
                witness_heads: &witness_head,
            },
        ),
        Command::VerifyAuth {
            challenge,
            answer,
            trust,
        } => citizen::verify_auth(&challenge, &answer, &trust),
        Command::Jpki { command } => match command {
            JpkiCommand::Ca {
                command: CaCommand::Init { dir },
            } => jpki_ca::ca_init(&dir),
            JpkiCommand::Ca {
                command: CaCommand::List { dir, card },
            } => jpki_ca::ca_list(&dir, card.as_deref()),
            JpkiCommand::Crl { ca, out } => jpki_ca::crl(&ca, &out),
            JpkiCommand::Challenge { out } => jpki_ca::challenge(&out),
            JpkiCommand::Status {
                ca_cert,
                crl,
                no_sign,
            } => citizen::jpki_status(reader, &ca_cert, &crl, no_sign),
        },
        Command::Card {
            command: CardCommand::Init { root, serial },
        } => authority::card_init(&mut open_card(reader, true)?, &root, serial),
        Command::Counter {
            counter_dir,
            ca,
            card,
            operator_reader,
            command,
        } => counter::run(
            counter::CounterOptions {
                reader,
                dir: counter_dir,
                ca,
                card: card.as_deref(),
                operator_reader: &operator_reader,
            },
            *command,
        ),
        Command::Authority { command } => match command {
            AuthorityCommand::Init { dir } => authority::init(&dir),
            AuthorityCommand::Certify {
                root,
                municipality,
                name,
                valid_years,
                out,
            } => authority::certify(&root, &municipality, &name, valid_years, &out),
        },
        Command::Net { command } => match command {
            NetCommand::Ca {
                command: NetCaCommand::Init { dir },
            } => net_ca::ca_init(&dir),
            NetCommand::Cert {
                command:
                    NetCertCommand::Issue {
                        ca,
                        role,
                        id,
                        purpose,
                        dns,
                        ip,
                        days,
                        out,
                    },
            } => net_ca::cert_issue(
                &ca,
                net_ca::NodeRequest {
                    role: role.into(),
                    id,
                    purposes: purpose,
                    dns,
                    ip,
                    days,
                },
                &out,
            ),
            NetCommand::Cert {
                command: NetCertCommand::Revoke { ca, serial },
            } => net_ca::cert_revoke(&ca, &serial),
            NetCommand::Cert {
                command: NetCertCommand::List { ca },
            } => net_ca::cert_list(&ca),
            NetCommand::Cert {
                command:
                    NetCertCommand::Seal {
                        ca,
                        code,
                        name,
                        days,
                        out,
                    },
            } => net_ca::cert_seal(&ca, &code, &name, days, &out),
            NetCommand::Crl { ca, out } => net_ca::crl(&ca, &out),
            NetCommand::Log {
                command:
                    NetLogCommand::Audit {
                        node,
                        server,
                        key,
                        head,
                    },
            } => net_log::audit(&node, &server, key, head),
            NetCommand::Log {
                command: NetLogCommand::Head { node, server },
            } => net_log::head(&node, &server),
            NetCommand::Serve {
                node,
                crl,
                db,
                listen,
                pool,
                public_listen,
                jpki_ca,
            } => net_ca::serve(juki_net::service::ServeOptions {
                node,
                crl,
                db,
                listen,
                pool,
                residents: public_listen.zip(jpki_ca).map(|(listen, jpki_ca)| {
                    juki_net::service::ResidentsOptions { listen, jpki_ca }
                }),
            }),
            NetCommand::Confirm {
                node,
                server,
                purpose,
                code,
            } => net_ca::confirm(&node, &server, &purpose, &code),
        },
        Command::Demo => demo::run(&mut std::io::stdout().lock()),
    }
}

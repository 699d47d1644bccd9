//! `juki-net`: the national server of 住基ネット (docs/network.md).
//!
//! ```text
//! juki-net serve --node server/ --crl network.crl --db postgres://… --listen 127.0.0.1:8443
//! ```
//!
//! The same server as `juki net serve`: both run [`juki_net::service::run_until_signal`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use juki_net::service::{self, ServeEvent, ServeOptions};

/// The national server of 住基ネット: the register of 本人確認情報 (PostgreSQL) served over
/// mutual TLS 1.3 to the network's municipalities and agencies.
#[derive(Parser)]
#[command(name = "juki-net", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrates the database and serves the API until SIGINT or SIGTERM.
    Serve {
        /// The server's node directory (node.key, node.pem of role `server`, ca.pem), as
        /// `juki net cert issue --role server` writes it.
        #[arg(long, value_name = "DIR")]
        node: PathBuf,
        /// The network CA's current CRL (`juki net crl`), PEM or DER; required.
        #[arg(long, value_name = "FILE")]
        crl: PathBuf,
        /// The PostgreSQL database: a `postgres://…` URL or libpq's `key=value` form.
        #[arg(long, value_name = "URL", env = "JUKI_NET_DB")]
        db: String,
        /// The address to listen on (the server certificate must name the address clients dial).
        #[arg(long, value_name = "ADDR", default_value = service::DEFAULT_LISTEN)]
        listen: String,
        /// Most connections to PostgreSQL.
        #[arg(long, value_name = "N", default_value_t = service::DEFAULT_POOL)]
        pool: usize,
        /// Also serve residents (開示請求 with the card) on this address: TLS without client
        /// certificates; needs --jpki-ca.
        #[arg(long, value_name = "ADDR", requires = "jpki_ca")]
        public_listen: Option<String>,
        /// The JPKI CA's directory, read-only: its certificates and its records of each
        /// certificate's subscriber (for --public-listen).
        #[arg(long, value_name = "DIR", requires = "public_listen")]
        jpki_ca: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let Command::Serve {
        node,
        crl,
        db,
        listen,
        pool,
        public_listen,
        jpki_ca,
    } = Cli::parse().command;
    let options = ServeOptions {
        node,
        crl,
        db,
        listen,
        pool,
        residents: public_listen
            .zip(jpki_ca)
            .map(|(listen, jpki_ca)| service::ResidentsOptions { listen, jpki_ca }),
    };
    match service::run_until_signal(&options, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("juki-net: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server's events on standard error, one line each.
fn log(event: ServeEvent) {
    match event {
        ServeEvent::Migrated {
            schema_version,
            applied,
        } => eprintln!(
            "juki-net: database schema version {schema_version} ({applied} migration(s) applied now)"
        ),
        ServeEvent::Listening { identity, address } => {
            eprintln!("juki-net: serving {identity} on https://{address}")
        }
        ServeEvent::ShuttingDown => eprintln!("juki-net: shutting down"),
        ServeEvent::Stopped => eprintln!("juki-net: stopped"),
        ServeEvent::ListeningForResidents { address } => {
            eprintln!("juki-net: serving residents (開示請求) on https://{address}")
        }
        ServeEvent::LogKeyCreated { public } => eprintln!(
            "juki-net: a new provision-log key; give every monitor its public half {}",
            public.display()
        ),
    }
}

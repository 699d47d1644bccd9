//! `juki-net`: the national server of 住基ネット (docs/network.md).
//!
//! ```text
//! juki-net serve --node server/ --crl network.crl --db postgres://… --listen 127.0.0.1:8443
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use juki_net::db::Db;
use juki_net::register::Register;
use juki_net::server::{self, ServerTls};
use juki_net::{api, tls};

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
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
        listen: String,
        /// Most connections to PostgreSQL.
        #[arg(long, value_name = "N", default_value_t = 16)]
        pool: usize,
    },
}

fn main() -> ExitCode {
    let Command::Serve {
        node,
        crl,
        db,
        listen,
        pool,
    } = Cli::parse().command;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("juki-net: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(node, crl, db, listen, pool)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("juki-net: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    node: PathBuf,
    crl: PathBuf,
    url: String,
    listen: String,
    pool: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let credentials = tls::NodeCredentials::load(&node)?;
    let config = tls::server_config(&credentials, vec![tls::load_crl(&crl)?])?;
    let db = Db::connect(&url, pool)?;
    let applied = db.migrate().await?;
    eprintln!(
        "juki-net: database schema version {} ({} migration(s) applied now)",
        Db::schema_version(),
        applied.len()
    );
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    let router = api::router(Register::new(db)).layer(axum::middleware::from_fn(api::log_request));
    eprintln!(
        "juki-net: serving {} on https://{}",
        credentials.node.role.identity(),
        listener.local_addr()?
    );
    server::serve(listener, ServerTls::new(config), router, shutdown()).await?;
    eprintln!("juki-net: stopped");
    Ok(())
}

/// Completes at SIGINT or SIGTERM.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server would never stop gracefully: stop now.
        eprintln!("juki-net: cannot install the signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("juki-net: shutting down");
}

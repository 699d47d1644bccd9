//! `juki-reader-sim`: puts a juki card (a card image file) into pcscd's virtual reader.
//!
//! Connects to vsmartcard's vpcd driver inside pcscd (default 127.0.0.1:35963, the reader
//! "Virtual PCD 00 00"; port 35964 is "Virtual PCD 00 01") and serves the card until killed,
//! reconnecting when pcscd restarts. Logs connection events to stderr; APDU data is never
//! logged (it carries PINs), and with `--verbose` only APDU headers and status words are.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use juki_reader_sim::image::{FileNvm, ImageError};
use juki_reader_sim::server::{self, ServerEvent};
use juki_reader_sim::vpcd::{Event, DEFAULT_PORT};
use juki_reader_sim::SimCard;

/// Run a juki card image as a virtual card in pcscd's vpcd reader.
#[derive(Debug, Parser)]
#[command(name = "juki-reader-sim", version)]
struct Args {
    /// Card image file.
    #[arg(long, value_name = "PATH")]
    image: PathBuf,
    /// Create a new blank card image (refuses an existing file unless --force).
    #[arg(long)]
    new: bool,
    /// With --new: replace an existing image.
    #[arg(long, requires = "new")]
    force: bool,
    /// Host where pcscd's vpcd driver listens.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// vpcd port: 35963 is "Virtual PCD 00 00", 35964 "Virtual PCD 00 01".
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Also log power events and each APDU's header and status word (never its data).
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("juki-reader-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let addr = resolve(&args.host, args.port)?;
    let card = if args.new {
        let nvm = FileNvm::create(&args.image, args.force).map_err(|e| match e {
            ImageError::AlreadyExists { .. } => format!("{e} (use --force to replace it)"),
            e => e.to_string(),
        })?;
        log(&format!(
            "created blank card image {}",
            args.image.display()
        ));
        SimCard::from_nvm(nvm)
    } else {
        SimCard::open(&args.image)
    }
    .map_err(|e| e.to_string())?;
    log(&format!(
        "card image {}; connecting to vpcd at {addr}",
        args.image.display()
    ));
    let verbose = args.verbose;
    server::run_forever(card, addr, |event| report(event, verbose));
    Ok(())
}

/// Resolves `host:port`, preferring IPv4 (vpcd listens on IPv4 only).
fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("{host} has no address"))
}

fn log(message: &str) {
    eprintln!("juki-reader-sim: {message}");
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn report(event: ServerEvent<'_>, verbose: bool) {
    match event {
        ServerEvent::Connected(addr) => log(&format!("connected to vpcd at {addr}: card inserted")),
        ServerEvent::Unreachable(e) => log(&format!("vpcd not reachable ({e}); retrying")),
        ServerEvent::Disconnected(None) => log("vpcd closed the connection: card removed"),
        ServerEvent::Disconnected(Some(e)) => log(&format!("connection lost ({e}): card removed")),
        ServerEvent::Card(Event::SaveFailed(e)) => {
            log(&format!("error: {e}; card answered 6581, changes dropped"));
        }
        ServerEvent::Card(Event::Ignored(what)) => log(&format!("ignored from vpcd: {what}")),
        ServerEvent::Card(event) if verbose => match event {
            Event::PowerOn => log("power on"),
            Event::PowerOff => log("power off"),
            Event::Reset => log("reset"),
            // The header only: the data field may hold a PIN.
            Event::Apdu {
                header,
                len,
                sw,
                took,
            } => log(&format!(
                "APDU {} ({len} bytes) -> {} in {} µs",
                hex(header),
                hex(&sw),
                took.as_micros()
            )),
            Event::SaveFailed(_) | Event::Ignored(_) => {}
        },
        ServerEvent::Card(_) => {}
    }
}

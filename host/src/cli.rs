//! The `juki` command line (clap derive). PINs are never arguments: they are asked for.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use juki_host::pin::PinKind;

/// juki: the resident registry card (住基カード) at home and at the municipal counter.
///
/// PINs and passwords are never given on the command line: they are asked for without echo
/// at a terminal, or read one per line from standard input when it is not a terminal, in the
/// order asked.
///
/// Exit codes: 0 success, 1 other error, 2 usage error, 3 wrong PIN, 4 PIN locked (reset at the
/// counter), 5 no reader or no card, 6 refused by the card (state or security condition).
#[derive(Debug, Parser)]
#[command(name = "juki", version, about, long_about)]
pub struct Cli {
    /// Reader: a PC/SC reader name (or a unique part of it), or `sim:PATH` for a simulated card
    /// image run in-process. Default: the first reader with a card.
    #[arg(long, global = true, value_name = "NAME|sim:PATH")]
    pub reader: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the PC/SC readers and whether each holds a card.
    Readers,
    /// Card information and PIN tries left (no PIN needed).
    Status,
    /// Show the resident code, the 4 info and the change information (asks the 住基 PIN).
    Info,
    /// PIN status or change.
    Pin {
        /// What to do with the PINs.
        #[command(subcommand)]
        command: PinCommand,
    },
    /// Sign a file: SHA-256 on the host, ECDSA P-256 on the card (asks the sign password).
    Sign {
        /// The file to sign.
        file: PathBuf,
        /// Where to write the signature (default: FILE.sig).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where to write the signing public key as PEM (default: FILE.pub.pem).
        #[arg(long)]
        pubkey_out: Option<PathBuf>,
        /// Write the signature DER-encoded instead of raw r‖s (64 bytes).
        #[arg(long)]
        der: bool,
    },
    /// Verify a signature made by `juki sign` (on the host; no card needed).
    Verify {
        /// The signed file.
        file: PathBuf,
        /// The signature (raw r‖s or DER).
        #[arg(long)]
        sig: PathBuf,
        /// The public key PEM.
        #[arg(long)]
        pubkey: PathBuf,
    },
    /// Card manufacturing.
    Card {
        /// What to do.
        #[command(subcommand)]
        command: CardCommand,
    },
    /// Municipal counter operations (need a counter credential).
    Counter {
        /// What to do.
        #[command(subcommand)]
        command: CounterCommand,
    },
    /// National root and municipality credentials (files; no card).
    Authority {
        /// What to do.
        #[command(subcommand)]
        command: AuthorityCommand,
    },
    /// Run the card's whole life on the built-in simulator (no setup, no input).
    Demo,
}

/// PIN commands.
#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Tries left of each PIN (uses no try).
    Status,
    /// Change a PIN: asks the current one, then the new one.
    Change {
        /// Which PIN.
        #[arg(long, value_enum)]
        pin: PinArg,
    },
}

/// Card commands.
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Initialise a blank card with the national root public key.
    Init {
        /// The root public key PEM (`root.pub` from `juki authority init`).
        #[arg(long)]
        root_pub: PathBuf,
    },
}

/// Counter commands.
#[derive(Debug, Subcommand)]
pub enum CounterCommand {
    /// Issue an initialised card to a resident (asks the 住基 PIN, auth PIN and sign password).
    /// The resident code is generated at random.
    Issue {
        /// The counter credential directory (counter.key, counter.cvc).
        #[arg(long)]
        credential: PathBuf,
        /// 氏名.
        #[arg(long)]
        name: String,
        /// 住所.
        #[arg(long)]
        address: String,
        /// 生年月日, YYYYMMDD or YYYY-MM-DD.
        #[arg(long)]
        birth: String,
        /// 性別: 1 male, 2 female, 9 not applicable.
        #[arg(long)]
        sex: String,
        /// The card carries the holder's photo (顔写真付き).
        #[arg(long)]
        photo: bool,
        /// Card serial number (default: generated).
        #[arg(long)]
        serial: Option<String>,
    },
    /// Reset a PIN with full tries, locked or not (asks the new PIN).
    ResetPin {
        /// The counter credential directory.
        #[arg(long)]
        credential: PathBuf,
        /// Which PIN.
        #[arg(long, value_enum)]
        pin: PinArg,
    },
}

/// Authority commands.
#[derive(Debug, Subcommand)]
pub enum AuthorityCommand {
    /// Make the national root key pair: DIR/root.key (0600) and DIR/root.pub.
    Init {
        /// Where to write the files.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Certify a municipality's counter: OUT/counter.key (0600) and OUT/counter.cvc.
    Certify {
        /// The root directory (root.key).
        #[arg(long)]
        root: PathBuf,
        /// 地方公共団体コード, 6 digits with check digit (e.g. 131016).
        #[arg(long)]
        municipality: String,
        /// Municipality name (e.g. 千代田区).
        #[arg(long)]
        name: String,
        /// Validity in years from today.
        #[arg(long, default_value_t = 5)]
        valid_years: u32,
        /// Where to write the credential.
        #[arg(long)]
        out: PathBuf,
    },
}

/// A PIN on the command line (its name, never its value).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PinArg {
    /// 住基 PIN.
    Juki,
    /// JPKI auth PIN.
    Auth,
    /// JPKI sign password.
    Sign,
}

impl From<PinArg> for PinKind {
    fn from(p: PinArg) -> PinKind {
        match p {
            PinArg::Juki => PinKind::Juki,
            PinArg::Auth => PinKind::Auth,
            PinArg::Sign => PinKind::Sign,
        }
    }
}

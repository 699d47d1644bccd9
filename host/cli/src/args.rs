//! The `juki` command line's arguments (clap derive). PINs are never arguments: they are asked for.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use juki_counter::audit::AuditHead;
use juki_host::date::Date;
use juki_host::pin::PinId;
use juki_host::resident::{MunicipalityCode, Sex};
use juki_host::resident_code::ResidentCode;

use crate::{i18n, values};

/// juki: the resident registry card (住基カード) at home and at the municipal counter.
///
/// PINs and passwords are never given on the command line: they are asked for without echo
/// at a terminal, or read one per line from standard input when it is not a terminal, in the
/// order asked.
///
/// Exit codes: 0 success, 1 other error, 2 usage error, 3 wrong PIN, 4 PIN locked (reset at the
/// counter), 5 no reader or no card, 6 refused (by the card: state or security condition; or by
/// juki: card expired, credential not valid, registry rules, an operator without the right), 7
/// operator login refused (wrong name or password, locked out, locked until a supervisor
/// unlocks), 8 audit trail damaged (also: rewritten past a head anchored in 住基ネット), 9
/// signature, certificate or login answer rejected (tampered, foreign CA, revoked, expired), 10
/// 住基ネット's provision log refused (a provision record altered or missing, a fork, a bad
/// proof or signature).
///
/// Messages are in Japanese under a Japanese locale (the first of LC_ALL, LC_MESSAGES, LANG that
/// is set starts with `ja`), in English otherwise. A value refused on the command line (a date,
/// sex, 住民票コード or 地方公共団体コード) is a usage error (2).
///
/// `JUKI_TODAY=YYYY-MM-DD` sets today's date for training and tests (card and credential
/// validity, issue date); never set it at a real counter.
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

impl Cli {
    /// The command line as clap shows it, its help in the language in use: each command's
    /// one-line help from the catalogs (`help-<path>`, e.g. `help-counter-issue`), and
    /// `juki`'s own (`help-juki`, `help-juki-long`).
    pub fn localized() -> clap::Command {
        Cli::localized_in(i18n::lang())
    }

    /// [`Cli::localized`] in `lang`.
    pub fn localized_in(lang: i18n::Lang) -> clap::Command {
        use clap::CommandFactory;
        fn each(cmd: clap::Command, path: &str, lang: i18n::Lang) -> clap::Command {
            let args: Vec<String> = cmd
                .get_arguments()
                .filter(|a| a.get_help().is_some())
                .map(|a| a.get_id().to_string())
                .collect();
            let cmd = args
                .into_iter()
                .fold(cmd, |cmd, id| match arg_help_id(lang, path, &id) {
                    Some(key) => cmd.mut_arg(&id, |a| a.help(i18n::text_in(lang, &key, None))),
                    None => cmd,
                });
            let subs: Vec<String> = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect();
            subs.into_iter().fold(cmd, |cmd, name| {
                let path = format!("{path}-{name}");
                cmd.mut_subcommand(&name, |sub| {
                    let sub = sub.about(i18n::text_in(lang, &format!("help{path}"), None));
                    each(sub, &path, lang)
                })
            })
        }
        let cmd = Cli::command()
            .about(i18n::text_in(lang, "help-juki", None))
            .long_about(i18n::text_in(lang, "help-juki-long", None));
        each(cmd, "", lang)
    }
}

/// The catalog id of the help of option `id` of the command at `path` (`-counter-issue`):
/// `opt-PATH--ID` where that command gives the option its own meaning, else `opt-ID`.
fn arg_help_id(lang: i18n::Lang, path: &str, id: &str) -> Option<String> {
    let id = id.replace('_', "-");
    [format!("opt{path}--{id}"), format!("opt-{id}")]
        .into_iter()
        .find(|key| i18n::has(lang, key))
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
    /// Sign an e-application (電子申請): a CMS signature (RFC 5652) with the card's signing key
    /// and certificate; asks the sign password (署名用パスワード). Writes FILE.p7s (detached) by
    /// default.
    Sign {
        /// The file to sign.
        file: PathBuf,
        /// Where to write the signature (default: FILE.p7s, or FILE.p7m with --attached).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Put the document inside the signature (attached SignedData) instead of beside it.
        #[arg(long)]
        attached: bool,
    },
    /// The agency's check of a signed e-application (no card needed): the signature, the chain
    /// to the trusted JPKI signing CA, the validity period and the CRL. Prints the verdict and
    /// the signer's 4 info; exits 9 when the signature is rejected.
    Verify {
        /// FILE SIG for a detached signature; just SIG for an attached one.
        #[arg(num_args = 1..=2, required = true, value_names = ["FILE", "SIG"])]
        paths: Vec<PathBuf>,
        /// What the agency trusts.
        #[command(flatten)]
        trust: TrustArgs,
        /// Write the signed document found inside an attached signature here.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// 利用者証明: answer a relying party's challenge with the card's authentication key; asks
    /// the auth PIN (利用者証明用パスワード).
    Auth {
        /// The challenge file sent by the relying party (16 to 1024 bytes).
        #[arg(long, value_name = "FILE")]
        challenge: PathBuf,
        /// Where to write the answer (default: CHALLENGE.answer).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// 開示請求: your own 本人確認情報 and every provision of it (to which agency, when, why),
    /// from the national server, with the card's authentication key (asks the auth PIN); each
    /// provision checked against the signed provision log. Exits 9 when the answer does not
    /// verify, 10 when the log disagrees with a head seen before or given (rewritten, forked).
    Disclosure {
        /// The national server's public address for residents (host:port).
        #[arg(long, value_name = "HOST:PORT")]
        server: String,
        /// The 住基ネット CA certificate (ca.pem): the server's certificate must chain to it.
        #[arg(long, value_name = "PEM")]
        ca_cert: std::path::PathBuf,
        /// The provision log's public key (log.pub).
        #[arg(long, value_name = "PEM")]
        log_key: std::path::PathBuf,
        /// Where this computer keeps the log head it verified and each resident's newest
        /// record shown (default $XDG_STATE_HOME/juki/disclosure.json, else
        /// ~/.local/state/juki/disclosure.json): the next answer must agree with it.
        #[arg(long, value_name = "FILE")]
        state: Option<std::path::PathBuf>,
        /// A signed head someone else saw (a counter's `juki counter net head`, `juki net log
        /// head`): the answer must agree with it. Repeatable.
        #[arg(long, value_name = "FILE")]
        witness_head: Vec<std::path::PathBuf>,
    },
    /// The relying party's check of an answer made by `juki auth`: the challenge, the
    /// authentication certificate's chain, validity and CRL. Exits 9 when it is rejected.
    VerifyAuth {
        /// The challenge that was sent.
        #[arg(long, value_name = "FILE")]
        challenge: PathBuf,
        /// The answer received.
        #[arg(long, value_name = "FILE")]
        answer: PathBuf,
        /// What the relying party trusts.
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// 公的個人認証 (JPKI): the certification authority, CRLs, challenges, and the citizen's own
    /// certificates.
    Jpki {
        /// What to do.
        #[command(subcommand)]
        command: JpkiCommand,
    },
    /// Card manufacturing.
    Card {
        /// What to do.
        #[command(subcommand)]
        command: CardCommand,
    },
    /// Municipal counter operations: operators, the card's lifecycle, registry and audit trail.
    Counter {
        /// The counter's data directory (registry, audit trail). Default: $JUKI_COUNTER_DIR, else
        /// ./counter-data.
        #[arg(long, global = true, value_name = "DIR")]
        counter_dir: Option<PathBuf>,
        /// The JPKI certification authority's directory: needed by jpki-issue and jpki-revoke,
        /// and with it, update, change-code, suspend and terminate revoke the card's certificates
        /// automatically. Default: $JUKI_CA_DIR.
        #[arg(long, global = true, value_name = "DIR", env = "JUKI_CA_DIR")]
        ca: Option<PathBuf>,
        /// The card the clerk is serving: the serial printed on it. The card on the reader must
        /// prove to be that card in the mutual authentication, or nothing is done (a reader
        /// relaying another card is refused).
        #[arg(long = "card", global = true, value_name = "SERIAL")]
        card: Option<String>,
        /// The operator reader: where the operator's own card (操作者カード) stays for the whole
        /// command, once operator cards are registered at this counter.
        #[arg(
            long,
            global = true,
            value_name = "READER",
            default_value = "Virtual PCD 00 01"
        )]
        operator_reader: String,
        /// What to do.
        #[command(subcommand)]
        command: Box<CounterCommand>,
    },
    /// National root and municipality credentials (files; no card).
    Authority {
        /// What to do.
        #[command(subcommand)]
        command: AuthorityCommand,
    },
    /// 住基ネット: the network's own certification authority, node certificates and CRLs; the
    /// provision log.
    Net {
        /// What to do.
        #[command(subcommand)]
        command: NetCommand,
    },
    /// Run the card's whole life on the built-in simulator (no setup, no input).
    Demo,
}

/// 住基ネット commands.
#[derive(Debug, Subcommand)]
pub enum NetCommand {
    /// The network's certification authority.
    Ca {
        /// What to do.
        #[command(subcommand)]
        command: NetCaCommand,
    },
    /// Node certificates: issue, revoke, list.
    Cert {
        /// What to do.
        #[command(subcommand)]
        command: NetCertCommand,
    },
    /// An agency confirms a resident's 本人確認情報 for a legal purpose its certificate names
    /// (the national server records the provision).
    Confirm {
        /// The agency's node directory (node.key, node.pem, ca.pem).
        #[arg(long, value_name = "DIR")]
        node: PathBuf,
        /// The national server's address (host:port, as its certificate names it).
        #[arg(long, value_name = "HOST:PORT")]
        server: String,
        /// The legal purpose (利用目的), one of those the agency's certificate names.
        #[arg(long)]
        purpose: String,
        /// The resident's 住民票コード (11 digits).
        #[arg(value_parser = crate::values::resident_code)]
        code: juki_host::resident_code::ResidentCode,
    },
    /// The national server (the national center's administrator): migrates the register's
    /// PostgreSQL database and serves the API over mutual TLS until SIGINT or SIGTERM.
    Serve {
        /// The server's node directory (node.key, node.pem of role `server`, ca.pem), as
        /// `juki net cert issue --role server` writes it.
        #[arg(long, value_name = "DIR")]
        node: PathBuf,
        /// The network CA's current CRL (`juki net crl`), PEM or DER.
        #[arg(long, value_name = "FILE")]
        crl: PathBuf,
        /// The PostgreSQL database: a `postgres://…` URL or libpq's `key=value` form.
        #[arg(long, value_name = "URL", env = "JUKI_NET_DB")]
        db: String,
        /// The address to listen on (the server certificate must name the address clients dial).
        #[arg(long, value_name = "ADDR", default_value = juki_net::service::DEFAULT_LISTEN)]
        listen: String,
        /// Most connections to PostgreSQL.
        #[arg(long, value_name = "N", default_value_t = juki_net::service::DEFAULT_POOL)]
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
    /// The provision log (本人確認情報の提供の記録): its signed head, and an auditor's check
    /// of the whole log.
    Log {
        /// What to do.
        #[command(subcommand)]
        command: NetLogCommand,
    },
    /// Publish the network CA's CRL (PEM), valid 7 days: the server refuses every certificate
    /// it lists, and every client once it is past its next update.
    Crl {
        /// The network CA's directory.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `juki net log` commands (any node: heads, proofs and entries hold no personal data).
#[derive(Debug, Subcommand)]
pub enum NetLogCommand {
    /// An auditor's check of the whole provision log: a monitor from the empty tree checks
    /// every entry against the signed root; prints the size and the head. Exits 10 when the
    /// log is refused.
    Audit {
        /// A node directory (node.key, node.pem, ca.pem; log.pub for the key by default).
        #[arg(long, value_name = "DIR")]
        node: PathBuf,
        /// The national server's address (host:port, as its certificate names it).
        #[arg(long, value_name = "HOST:PORT")]
        server: String,
        /// The log's public key (SPKI PEM; default DIR/log.pub).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// A signed head someone else was shown (its text, as `juki net log head` prints it):
        /// also check it against the current one with the consistency proof.
        #[arg(long, value_name = "FILE")]
        head: Option<PathBuf>,
    },
    /// Print the server's current signed tree head (text), to compare with other parties.
    Head {
        /// A node directory (node.key, node.pem, ca.pem).
        #[arg(long, value_name = "DIR")]
        node: PathBuf,
        /// The national server's address (host:port, as its certificate names it).
        #[arg(long, value_name = "HOST:PORT")]
        server: String,
    },
}

/// Network CA commands.
#[derive(Debug, Subcommand)]
pub enum NetCaCommand {
    /// Make the network CA: DIR/ca.key (0600), DIR/ca.pem (every node's trust anchor) and
    /// DIR/index.json.
    Init {
        /// Where to make it (created with mode 0700).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Node certificate commands.
#[derive(Debug, Subcommand)]
pub enum NetCertCommand {
    /// Issue a node certificate with a new P-256 key: OUT/node.key (0600), OUT/node.pem and
    /// OUT/ca.pem, what the node's client or server loads.
    Issue {
        /// The network CA's directory.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The node's role.
        #[arg(long, value_enum)]
        role: NetRoleArg,
        /// The node's identity: a municipality's 地方公共団体コード (e.g. 131016), an agency's,
        /// an administrator's or the server's name.
        #[arg(long, value_name = "ID")]
        id: String,
        /// An agency's legal purpose (e.g. 年金・恩給の現況確認); at least one for an agency, give
        /// it once per purpose.
        #[arg(long, value_name = "PURPOSE")]
        purpose: Vec<String>,
        /// A DNS name of the server (default with --ip absent: localhost and 127.0.0.1).
        #[arg(long, value_name = "NAME")]
        dns: Vec<String>,
        /// An IP address of the server.
        #[arg(long, value_name = "ADDR")]
        ip: Vec<std::net::IpAddr>,
        /// Days of validity from now (1 to 3650).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// The node's directory to write (created with mode 0700).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue a municipality's 電子公印 (seal) certificate with a new P-256 key, with which its
    /// counter certifies the 住民票の写し it issues (広域交付): OUT/seal.key (0600) and
    /// OUT/seal.pem, in the municipality's node directory.
    Seal {
        /// The network CA's directory.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The municipality's 地方公共団体コード (e.g. 271276).
        #[arg(long, value_name = "CODE", value_parser = crate::values::municipality)]
        code: juki_host::resident::MunicipalityCode,
        /// The municipality's name as the copies name it (e.g. 大阪市北区).
        #[arg(long)]
        name: String,
        /// Days of validity from now (1 to 3650).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// The municipality's node directory (created with mode 0700 if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Revoke a node certificate; it is refused once the server has the next CRL.
    Revoke {
        /// The network CA's directory.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// The certificate's serial number (hex, as listed).
        serial: String,
    },
    /// The node certificates the CA issued, with their state.
    List {
        /// The network CA's directory.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
    },
}

/// A node's role on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NetRoleArg {
    /// A municipality (--id: its 地方公共団体コード).
    Municipality,
    /// An agency (--id: its name; --purpose: what it may ask for).
    Agency,
    /// An administrator of the network.
    Administrator,
    /// The national center's server (--dns, --ip: the names it answers to).
    Server,
}

impl From<NetRoleArg> for juki_net::pki::RoleKind {
    fn from(r: NetRoleArg) -> juki_net::pki::RoleKind {
        use juki_net::pki::RoleKind;
        match r {
            NetRoleArg::Municipality => RoleKind::Municipality,
            NetRoleArg::Agency => RoleKind::Agency,
            NetRoleArg::Administrator => RoleKind::Administrator,
            NetRoleArg::Server => RoleKind::Server,
        }
    }
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
        /// The national root's directory (`root.key`, `root.pub` from `juki authority init`):
        /// the card gets the root public key, generates its own key, and the root certifies
        /// that key with the card's serial (manufacture).
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// The card's serial (1 to 16 of A-Z, 0-9, '-'; default: JK and 10 random digits).
        #[arg(long)]
        serial: Option<String>,
    },
}

/// Counter commands.
///
/// Every command but `audit` and the `pending` list runs as a named operator (操作者): the
/// operator's password is the first secret asked, then the resident's PINs. Unfinished
/// operations are reported on standard error at the start of every command.
#[derive(Debug, Subcommand)]
pub enum CounterCommand {
    /// Operators (操作者) of this counter.
    Operator {
        /// What to do.
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// 交付: issue an initialised card to a resident (the resident enters the 住基 PIN, auth PIN
    /// and sign password). The resident code is generated at random.
    Issue(IssueArgs),
    /// 本人確認: the resident enters the 住基 PIN; shows the 4 info, the resident code and the
    /// card's validity.
    Identify(Clerk),
    /// パスワード再設定: reset a PIN with full tries, locked or not (the resident enters the new
    /// PIN).
    ResetPin {
        /// The clerk.
        #[command(flatten)]
        clerk: Clerk,
        /// Which PIN.
        #[arg(long, value_enum)]
        pin: PinArg,
    },
    /// 記載事項変更・継続利用: write a new address and/or name and the change information
    /// (転入, 転居, 氏名変更); the resident enters the 住基 PIN. Also for a card issued by another
    /// municipality. The JPKI certificates are flagged for revocation.
    Update(UpdateArgs),
    /// 住民票コードの変更: a new random code; the card is terminated (code-changed) and the
    /// registry shows that a new card is needed.
    ChangeCode(Clerk),
    /// 一時停止: suspend a card (lost, stolen, …); only the counter can resume it.
    Suspend {
        /// The clerk.
        #[command(flatten)]
        clerk: Clerk,
        /// Why (紛失, 盗難, …).
        #[arg(long)]
        reason: Option<String>,
    },
    /// 一時停止の解除: resume a suspended card.
    Resume(Clerk),
    /// 返納・廃止: terminate a card, irreversibly (keys, PINs and personal data erased).
    Terminate {
        /// The clerk.
        #[command(flatten)]
        clerk: Clerk,
        /// Why.
        #[arg(long, value_enum)]
        reason: TerminateArg,
        /// Terminate card SERIAL in the registry without the card: for a card that cannot take
        /// part (no key of its own, initialised before the mutual authentication; or not
        /// presented). The card itself is not changed; its JPKI certificates are revoked.
        #[arg(long, value_name = "SERIAL")]
        without_card: Option<String>,
    },
    /// 電子証明書の発行: issue the JPKI signing and authentication certificates of an issued card
    /// (the resident enters the 住基 PIN; both key pairs are generated anew on the card). Needs
    /// --ca. The card's earlier certificates are revoked.
    JpkiIssue(Clerk),
    /// 電子証明書の失効: revoke a card's JPKI certificates at the CA, on the resident's request or
    /// when a revocation was left pending. Needs --ca. The card need not be present.
    JpkiRevoke {
        /// The operator (asks the operator's password first).
        #[arg(long)]
        operator: String,
        /// The counter credential directory (counter.key, counter.cvc).
        #[arg(long)]
        credential: Option<PathBuf>,
    },
    /// The audit trail (監査記録).
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: AuditCommand,
        /// The operator (asks the operator's password first).
        #[arg(long, global = true)]
        operator: Option<String>,
        /// The counter credential directory (counter.key, counter.cvc).
        #[arg(long, global = true)]
        credential: Option<PathBuf>,
    },
    /// Unfinished operations (the process stopped between the card and the records): list
    /// them, or close one after checking the card.
    Pending {
        /// Close one (without: list them).
        #[command(subcommand)]
        command: Option<PendingCommand>,
    },
    /// 転出: a resident of this municipality moves to another one (転出届). No card: the
    /// resident keeps it and is served with it at the destination (継続利用), whose 転入
    /// completes the 転出 in 住基ネット.
    MoveOut {
        /// The resident's 住民票コード.
        #[arg(long, value_name = "CODE", value_parser = values::resident_code)]
        resident_code: ResidentCode,
        /// The destination's 地方公共団体コード (e.g. 271276 大阪市北区).
        #[arg(long, value_name = "CODE", value_parser = values::municipality)]
        to: MunicipalityCode,
        /// The date of the move, YYYY-MM-DD (default: today).
        #[arg(long, value_parser = values::date)]
        date: Option<Date>,
        /// The operator (asks the operator's password first).
        #[arg(long)]
        operator: String,
        /// The counter credential directory (counter.key, counter.cvc).
        #[arg(long)]
        credential: Option<PathBuf>,
    },
    /// 広域交付: a 住民票の写し of a resident registered in any municipality, from 住基ネット's
    /// 本人確認情報; the resident enters the 住基 PIN; sealed with this municipality's 電子公印
    /// and written to --out (anyone checks it with `juki verify`).
    Copy {
        /// The clerk.
        #[command(flatten)]
        clerk: Clerk,
        /// This municipality's node directory (node.key, node.pem, ca.pem, seal.key,
        /// seal.pem).
        #[arg(long, value_name = "DIR")]
        node: PathBuf,
        /// The national server's address (host:port, as its certificate names it).
        #[arg(long, value_name = "HOST:PORT")]
        server: String,
        /// Where to write the sealed copy (CMS, DER; created 0600, never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// 住基ネット: the updates of this counter waiting to be delivered to the network.
    Net {
        /// What to do.
        #[command(subcommand)]
        command: CounterNetCommand,
    },
}

/// `juki counter net` commands.
#[derive(Debug, Subcommand)]
pub enum CounterNetCommand {
    /// What is waiting (no login): how many updates, the oldest, the next attempt and why the
    /// last one failed, and an update the network refused, which stops the queue.
    Status,
    /// The provision log's signed head this counter last accepted (no login; nothing else on
    /// standard output): to compare with another counter (`juki net log audit --head FILE`)
    /// or give a resident as a witness (`juki disclosure --witness-head FILE`). Exits 1 before
    /// the first sync that checked the log.
    Head,
    /// After the cause of a refused update was dealt with: deliver it again at the next sync
    /// (audited).
    Retry {
        /// What was done about the refusal.
        #[arg(long)]
        note: String,
        /// The operator (asks the operator's password first).
        #[arg(long)]
        operator: String,
        /// The counter credential directory (counter.key, counter.cvc).
        #[arg(long)]
        credential: Option<PathBuf>,
    },
    /// Deliver the waiting updates to the national server, in order (no login: the node's key
    /// authenticates the municipality), record the 転出 that a 転入 elsewhere completed, check
    /// the provision log with the key DIR/log.pub (exits 10 when it is refused) and anchor the
    /// audit trail's head in it.
    Sync {
        /// This municipality's node directory (node.key, node.pem, ca.pem), as
        /// `juki net cert issue --role municipality` writes it.
        #[arg(long, value_name = "DIR")]
        node: PathBuf,
        /// The national server's address (host:port, as its certificate names it).
        #[arg(long, value_name = "HOST:PORT")]
        server: String,
        /// The operator (asks the operator's password first).
        #[arg(long)]
        operator: Option<String>,
        /// The counter credential directory (counter.key, counter.cvc).
        #[arg(long)]
        credential: Option<PathBuf>,
    },
}

/// The operator at the counter and the municipality's counter credential: who does a card
/// operation, and for which municipality.
#[derive(Debug, Args)]
pub struct Clerk {
    /// The counter credential directory (counter.key, counter.cvc).
    #[arg(long)]
    pub credential: PathBuf,
    /// The operator (asks the operator's password first).
    #[arg(long)]
    pub operator: String,
}

/// `juki counter issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The clerk.
    #[command(flatten)]
    pub clerk: Clerk,
    /// 氏名.
    #[arg(long)]
    pub name: String,
    /// 住所.
    #[arg(long)]
    pub address: String,
    /// 生年月日, YYYYMMDD or YYYY-MM-DD.
    #[arg(long, value_name = "DATE", value_parser = values::date)]
    pub birth: Date,
    /// 性別: 1 male, 2 female, 9 not applicable.
    #[arg(long, value_name = "1|2|9", value_parser = values::sex)]
    pub sex: Sex,
    /// The card carries the holder's photo (顔写真付き).
    #[arg(long)]
    pub photo: bool,
    /// The serial the clerk expects (default: the serial the card proves, set at manufacture).
    #[arg(long)]
    pub serial: Option<String>,
    /// Legal representative (法定代理人): required for a resident under 15.
    #[arg(long, value_name = "NAME")]
    pub representative: Option<String>,
    /// End of the period of stay (在留期間) of a foreign resident: the card expires then if
    /// that is earlier than 10 years after issue.
    #[arg(long, value_name = "DATE", value_parser = values::date)]
    pub stay_until: Option<Date>,
    /// A registered resident's 住民票コード: a new card for them (after a change of code, a
    /// loss or a return). Default: a new resident with a new random code.
    #[arg(long, value_name = "CODE", value_parser = values::resident_code)]
    pub resident_code: Option<ResidentCode>,
}

/// `juki counter update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The clerk.
    #[command(flatten)]
    pub clerk: Clerk,
    /// The new address.
    #[arg(long)]
    pub address: Option<String>,
    /// The new name.
    #[arg(long)]
    pub name: Option<String>,
    /// The reason (転入, 転居, 婚姻, …).
    #[arg(long)]
    pub reason: String,
    /// The date of the change, YYYY-MM-DD (default: today).
    #[arg(long, value_parser = values::date)]
    pub date: Option<Date>,
}

/// An operator's role.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// 窓口担当.
    Clerk,
    /// 監督者.
    Supervisor,
    /// 監査担当.
    Auditor,
}

/// Operator commands.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Register an operator (asks the new operator's password, twice at a terminal). The first
    /// operator of a new counter needs no login but the municipality's credential (--credential),
    /// which binds the counter's data to its municipality, and is the counter's supervisor
    /// (監督者); later ones are added by a logged-in operator (--operator, whose password is
    /// asked first).
    Add {
        /// The new operator's name.
        #[arg(long)]
        name: String,
        /// The operator who adds it (not for the first one).
        #[arg(long)]
        operator: Option<String>,
        /// The municipality's counter credential: required for the first operator.
        #[arg(long)]
        credential: Option<PathBuf>,
        /// Register a supervisor (監督者), who may unlock other operators; only a supervisor
        /// registers one (the first operator is one).
        #[arg(long, conflicts_with = "role")]
        supervisor: bool,
        /// The new operator's role, decided by the municipality: clerk (窓口担当), supervisor
        /// (監督者), auditor (監査担当). Default: clerk.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
    },
    /// 操作者カード: register an operator's own issued juki card, in the desk reader
    /// (--reader), as their operator card, or with --remove take a lost or returned one off.
    /// Done by a logged-in supervisor; from then on this counter requires an operator card of
    /// every operator (one whose card was removed logs in again once a card is registered).
    Card {
        /// The operator whose card it is.
        #[arg(long)]
        name: String,
        /// The supervisor who registers it (asks the supervisor's password first).
        #[arg(long)]
        operator: String,
        /// The counter credential directory (counter.key, counter.cvc); required to register.
        #[arg(long, required_unless_present = "remove")]
        credential: Option<PathBuf>,
        /// Remove the operator's card (lost or returned) instead: it is refused from then on.
        #[arg(long)]
        remove: bool,
    },
    /// 役割の変更: change an operator's role. Done by a logged-in supervisor; the last
    /// supervisor cannot step down. An operator with an operator card: its binding names the
    /// role and is signed again (--credential).
    Role {
        /// The operator whose role changes.
        #[arg(long)]
        name: String,
        /// The new role: clerk (窓口担当), supervisor (監督者), auditor (監査担当).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The supervisor who changes it (asks the supervisor's password first).
        #[arg(long)]
        operator: String,
        /// The counter credential directory (counter.key, counter.cvc): required where operator
        /// cards are used.
        #[arg(long)]
        credential: Option<PathBuf>,
    },
    /// ロック解除: unlock an operator locked after repeated wrong passwords. Done by a logged-in
    /// supervisor (--operator, whose password is asked first), never by the operator themself.
    Unlock {
        /// The locked operator.
        name: String,
        /// The supervisor who unlocks (asks the supervisor's password first).
        #[arg(long)]
        operator: String,
        /// The counter credential directory (counter.key, counter.cvc).
        #[arg(long)]
        credential: Option<PathBuf>,
    },
}

/// Audit trail commands (no login).
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain; prints the head (SEQ:HASH) every time; exits 8 naming the
    /// first fault.
    Verify {
        /// A head noted earlier (SEQ:HASH): also prove that nothing up to it was rewritten.
        #[arg(long, value_name = "SEQ:HEX", value_parser = values::audit_head)]
        head: Option<AuditHead>,
        /// This municipality's node directory (with log.pub): also check the trail against
        /// the heads it anchored in 住基ネット's provision log, and their inclusion in it.
        #[arg(long, value_name = "DIR", requires = "server")]
        node: Option<PathBuf>,
        /// The national server's address (host:port), with --node.
        #[arg(long, value_name = "HOST:PORT", requires = "node")]
        server: Option<String>,
    },
    /// One card's history, oldest first (for a resident's disclosure request, 開示請求), or
    /// with --operator what one operator did and was refused.
    Show {
        /// The card serial.
        #[arg(
            long,
            required_unless_present = "of_operator",
            conflicts_with = "of_operator"
        )]
        card: Option<String>,
        /// The operator whose records to show instead: what they did and were refused (role
        /// changes they made included).
        #[arg(long, value_name = "NAME")]
        of_operator: Option<String>,
    },
}

/// Pending operation commands.
#[derive(Debug, Subcommand)]
pub enum PendingCommand {
    /// Close an unfinished operation after checking the card: the card in the reader (if it is
    /// the operation's card) tells whether a suspend, resume, terminate or change-code was done.
    Resolve {
        /// The operation's number (as listed).
        id: i64,
        /// What was checked and found.
        #[arg(long)]
        note: String,
        /// The counter credential: the card in the reader proves its serial and state (without
        /// it, the card is not consulted and the operation is closed as not confirmed).
        #[arg(long)]
        credential: Option<PathBuf>,
        /// The operator (asks the operator's password first).
        #[arg(long)]
        operator: String,
    },
}

/// The trust of a verifier: the CA certificate and the CA's CRLs.
#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The trusted JPKI CA certificate: sign-ca.pem of the CA for signatures, auth-ca.pem for
    /// logins.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: PathBuf,
    /// The CA's current CRL (sign.crl or auth.crl from `juki jpki crl`); may be given more than
    /// once.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "no_revocation_check"
    )]
    pub crl: Vec<PathBuf>,
    /// Skip the revocation check (the verdict then says so).
    #[arg(long, conflicts_with = "crl")]
    pub no_revocation_check: bool,
}

/// JPKI commands.
#[derive(Debug, Subcommand)]
pub enum JpkiCommand {
    /// The certification authority (認証局).
    Ca {
        /// What to do.
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Publish the CA's CRLs (失効リスト): DIR/sign.crl and DIR/auth.crl (PEM), valid 7 days.
    Crl {
        /// The CA directory.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// Where to write them.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// A relying party's random challenge for `juki auth` (32 bytes).
    Challenge {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// 自己の電子証明書の有効性確認: are my certificates valid now? Reads the authentication
    /// certificate (free) and the signing certificate (asks the sign password), and checks them
    /// against the CA certificates given with --ca-cert (never against those the card carries)
    /// and the CRLs given. Exits 9 when a certificate is not valid.
    Status {
        /// The trusted JPKI CA certificates, as published by the CA: sign-ca.pem and auth-ca.pem
        /// (give --ca-cert twice). The CA certificates on the card must be these.
        #[arg(long, value_name = "PEM", required = true)]
        ca_cert: Vec<PathBuf>,
        /// The CA's CRLs (sign.crl, auth.crl); without them revocation is not checked.
        #[arg(long, value_name = "FILE")]
        crl: Vec<PathBuf>,
        /// Do not read the signing certificate (no password asked).
        #[arg(long)]
        no_sign: bool,
    },
}

/// Certification authority commands.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Make a new CA: DIR/sign-ca.key, DIR/auth-ca.key (0600), DIR/sign-ca.pem, DIR/auth-ca.pem
    /// (the CA certificates the agencies trust) and DIR/ca.db.
    Init {
        /// Where to make it (created with mode 0700).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// The certificates the CA issued, with their state.
    List {
        /// The CA directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Only those of this card.
        #[arg(long, value_name = "SERIAL")]
        card: Option<String>,
    },
}

/// Why a card is terminated.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TerminateArg {
    /// 返納: handed back.
    Returned,
    /// 死亡: the holder died.
    Death,
    /// 有効期限切れ: expired.
    Expired,
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
        #[arg(long, value_name = "CODE", value_parser = values::municipality)]
        municipality: MunicipalityCode,
        /// Municipality name (e.g. 千代田区).
        #[arg(long)]
        name: String,
        /// Validity in years from today (1 to 20).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
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

impl From<PinArg> for PinId {
    fn from(p: PinArg) -> PinId {
        match p {
            PinArg::Juki => PinId::Juki,
            PinArg::Auth => PinId::Auth,
            PinArg::Sign => PinId::Sign,
        }
    }
}

#[cfg(test)]
mod help_tests {
    use super::*;
    use crate::i18n::Lang;
    use clap::CommandFactory;

    /// Every command has its one-line help in both catalogs (`help-<path>`), so that
    /// `juki … --help` is in the user's language, and no catalog entry is for a command that
    /// does not exist.
    #[test]
    fn every_command_has_its_help_in_both_languages() {
        fn paths(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                let p = format!("{path}-{}", sub.get_name());
                out.push(format!("help{p}"));
                paths(sub, &p, out);
            }
        }
        let mut ids = vec!["help-juki".to_string(), "help-juki-long".to_string()];
        paths(&Cli::command(), "", &mut ids);
        // Every option's help, found for the command it belongs to.
        fn options(cmd: &clap::Command, path: &str, lang: Lang, used: &mut Vec<String>) {
            for a in cmd.get_arguments().filter(|a| a.get_help().is_some()) {
                let id = arg_help_id(lang, path, a.get_id().as_str());
                assert!(
                    id.is_some(),
                    "--{} of `{path}` has no help in {lang:?}",
                    a.get_id()
                );
                used.extend(id);
            }
            for sub in cmd.get_subcommands() {
                options(sub, &format!("{path}-{}", sub.get_name()), lang, used);
            }
        }
        for lang in [Lang::Ja, Lang::En] {
            options(&Cli::command(), "", lang, &mut ids);
        }
        for lang in [Lang::Ja, Lang::En] {
            for id in &ids {
                assert!(i18n::has(lang, id), "{id} missing in {lang:?}");
            }
            let catalog: Vec<String> = i18n::message_ids(lang)
                .into_iter()
                .filter(|(_, file)| *file == "help.ftl")
                .map(|(id, _)| id)
                .collect();
            for id in &catalog {
                assert!(ids.contains(id), "{id} in {lang:?} names no command");
            }
        }
        // No id of the catalogs is defined twice (Fluent would keep the first silently).
        for lang in [Lang::Ja, Lang::En] {
            let mut all: Vec<String> = i18n::message_ids(lang)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let count = all.len();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), count, "an id defined twice in {lang:?}");
        }
        // And they are applied: the Japanese help of `counter issue` is the catalog's.
        let cmd = Cli::localized_in(Lang::Ja);
        let issue = cmd
            .find_subcommand("counter")
            .and_then(|c| c.find_subcommand("issue"))
            .and_then(|c| c.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        assert!(issue.starts_with("交付: 初期化済みのカード"), "{issue}");
    }
}

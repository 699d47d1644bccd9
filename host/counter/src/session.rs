//! A counter session: the counter's database, the municipality it belongs to, and the operator
//! who logged in. Every counter operation ([`super::ops`]) runs on a [`Session`].
//!
//! - The data directory is `--counter-dir`, else `$JUKI_COUNTER_DIR`, else `./counter-data`
//!   ([`counter_dir`]).
//! - A counter database belongs to one municipality: the first operator is registered with the
//!   municipality's counter credential, which binds the database to its 地方公共団体コード
//!   (`meta.counter_municipality`). Afterwards a credential of another municipality is refused
//!   with this database (a counter of another municipality keeps its own data directory).
//! - [`Session::login`] checks the operator's password ([`super::operators`]: Argon2id,
//!   lockout, every attempt audited).

use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use super::{Actor, CounterDb, CounterError};
use crate::Result;
use juki_host::date::Date;
use juki_host::pin::Pin;
use juki_host::resident::MunicipalityCode;
use juki_host::Error;

/// The environment variable naming the counter's data directory.
pub const DIR_ENV: &str = "JUKI_COUNTER_DIR";
/// The data directory when neither `--counter-dir` nor `$JUKI_COUNTER_DIR` is given.
pub const DEFAULT_DIR: &str = "counter-data";
/// The operator name recorded for the registration of a counter's first operator.
pub const SETUP_OPERATOR: &str = "(setup)";

const META_MUNICIPALITY: &str = "counter_municipality";

/// The counter's data directory: `arg`, else `$JUKI_COUNTER_DIR`, else `./counter-data`.
pub fn counter_dir(arg: Option<&Path>) -> PathBuf {
    match arg {
        Some(dir) => dir.to_path_buf(),
        None => match std::env::var_os(DIR_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(DEFAULT_DIR),
        },
    }
}

/// The municipality this counter database belongs to, once bound.
pub fn municipality(db: &CounterDb) -> Result<Option<MunicipalityCode>> {
    let stored: Option<String> = db
        .conn()
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [META_MUNICIPALITY],
            |r| r.get(0),
        )
        .optional()
        .map_err(CounterError::from)?;
    stored
        .map(|code| {
            MunicipalityCode::parse(&code)
                .map_err(|_| CounterError::Corrupt("counter municipality".into()))
        })
        .transpose()
}

/// Checks that the database belongs to `code`, binding it to `code` if it belongs to none yet.
pub fn bind_municipality(db: &CounterDb, code: &MunicipalityCode) -> Result<()> {
    match municipality(db)? {
        Some(bound) if &bound == code => Ok(()),
        Some(bound) => Err(Error::InvalidInput(format!(
            "this counter's data directory ({}) belongs to municipality {bound}; the credential \
             is for {code}. Each municipality's counter keeps its own data directory \
             (--counter-dir)",
            db.path().parent().unwrap_or(db.path()).display()
        ))
        .into()),
        None => {
            db.conn()
                .execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    [META_MUNICIPALITY, code.as_str()],
                )
                .map_err(CounterError::from)?;
            Ok(())
        }
    }
}

/// The municipality of a bound database, or a clear error telling how to bind it.
pub fn bound_municipality(db: &CounterDb) -> Result<MunicipalityCode> {
    municipality(db)?.ok_or_else(|| {
        Error::InvalidInput(
            "this counter's database is new: register its first operator with the \
             municipality's credential first (juki counter operator add --name NAME \
             --credential DIR)"
                .into(),
        )
        .into()
    })
}

/// A password as text (never logged); a password that is not UTF-8 is checked as typed,
/// lossily, and simply does not match.
fn password_text(password: &Pin) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(String::from_utf8_lossy(password.as_bytes()).into_owned())
}

/// Registers the first operator of an empty counter database, without a login (audited as
/// [`SETUP_OPERATOR`]), as its supervisor, and binds the database to `municipality`.
pub fn add_first_operator(
    db: &CounterDb,
    municipality: &MunicipalityCode,
    name: &str,
    password: &Pin,
) -> Result<()> {
    if !db.operators().list()?.is_empty() {
        return Err(Error::InvalidInput(
            "this counter already has operators: a new one is added by a logged-in operator \
             (--operator OP)"
                .into(),
        )
        .into());
    }
    bind_municipality(db, municipality)?;
    let actor = Actor {
        municipality,
        operator: SETUP_OPERATOR,
    };
    db.operators()
        .add_with_role(&actor, name, &password_text(password), true)?;
    Ok(())
}

/// A logged-in operator at a counter.
#[derive(Debug)]
pub struct Session {
    pub(crate) db: CounterDb,
    pub(crate) municipality: MunicipalityCode,
    pub(crate) operator: String,
    pub(crate) today: Date,
    pub(crate) ca: Option<juki_jpki::ca::JpkiCa>,
    /// The card the clerk is serving (the serial printed on it), when given: the card on the
    /// reader must prove to be that card ([`Session::serving`]).
    pub(crate) serving: Option<String>,
}

impl Session {
    /// The clerk serves the card `serial` (printed on the card in hand): every operation of
    /// this session refuses a card that proves to be another ([`juki_host::Error::CardChanged`]),
    /// such as a card a hostile reader relays from elsewhere.
    pub fn serving(mut self, serial: Option<&str>) -> Session {
        self.serving = serial.map(str::to_string);
        self
    }

    /// Logs `operator` in at the counter of `municipality` (binding a new database to it, or
    /// refusing a database of another municipality). `today` is the date every validity
    /// decision of the session uses ([`juki_host::date::today`]).
    ///
    /// Errors: [`CounterError::WrongCredentials`], [`CounterError::LockedOut`]; every attempt is
    /// audited.
    pub fn login(
        db: CounterDb,
        municipality: &MunicipalityCode,
        operator: &str,
        password: &Pin,
        today: Date,
    ) -> Result<Session> {
        // A database of another municipality is refused; an unbound one (operators registered
        // through the library) is bound only after a successful login.
        let bound = self::municipality(&db)?;
        if bound.is_some() {
            bind_municipality(&db, municipality)?;
        }
        let logged = db
            .operators()
            .login(municipality, operator, &password_text(password))?;
        if bound.is_none() {
            bind_municipality(&db, municipality)?;
        }
        Ok(Session {
            db,
            municipality: municipality.clone(),
            operator: logged.operator,
            today,
            ca: None,
            serving: None,
        })
    }

    /// The database.
    pub fn db(&self) -> &CounterDb {
        &self.db
    }

    /// The database, to write.
    pub fn db_mut(&mut self) -> &mut CounterDb {
        &mut self.db
    }

    /// Gives the database back.
    pub fn into_db(self) -> CounterDb {
        self.db
    }

    /// The counter's municipality.
    pub fn municipality(&self) -> &MunicipalityCode {
        &self.municipality
    }

    /// The logged-in operator.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The session's today.
    pub fn today(&self) -> Date {
        self.today
    }

    /// Municipality and operator, for the records.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            municipality: &self.municipality,
            operator: &self.operator,
        }
    }

    /// Registers another operator, audited as added by the logged-in one.
    pub fn add_operator(&self, name: &str, password: &Pin) -> Result<()> {
        self.add_operator_with_role(name, password, false)
    }

    /// Registers another operator, a supervisor when `supervisor` (only a supervisor registers
    /// one: [`CounterError::NotAllowed`] otherwise).
    pub fn add_operator_with_role(
        &self,
        name: &str,
        password: &Pin,
        supervisor: bool,
    ) -> Result<()> {
        let ops = self.db.operators();
        if supervisor && !ops.get(&self.operator)?.is_some_and(|o| o.supervisor) {
            return Err(CounterError::NotAllowed(format!(
                "{} is not a supervisor (監督者ではありません): only a supervisor registers another",
                self.operator
            )));
        }
        ops.add_with_role(&self.actor(), name, &password_text(password), supervisor)?;
        Ok(())
    }

    /// Unlocks operator `name` ([`super::operators::Operators::unlock`]): the logged-in operator
    /// must be a supervisor, and not `name`.
    pub fn unlock_operator(&self, name: &str) -> Result<super::operators::OperatorInfo> {
        self.db.operators().unlock(&self.actor(), name)
    }
}

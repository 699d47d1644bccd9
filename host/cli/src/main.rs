//! `juki`: the resident registry card CLI. See `juki --help`.

use std::process::ExitCode;

use clap::FromArgMatches;

use juki_cli::failure::message;
use juki_cli::i18n::{self, Lang};
use juki_cli::{args, note, output, t};

fn main() -> ExitCode {
    i18n::set_lang(Lang::from_env());
    let matches = args::Cli::localized().get_matches();
    let cli = args::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = juki_cli::run(cli);
    let unwritten = output::finish();
    match result {
        Err(e) => {
            note!("juki: {}", t!("error", message = message(&e)));
            ExitCode::from(e.exit_code())
        }
        Ok(()) => match unwritten {
            Some(e) => {
                note!(
                    "juki: {}",
                    t!("error-writing-output", detail = e.to_string())
                );
                ExitCode::FAILURE
            }
            None => ExitCode::SUCCESS,
        },
    }
}

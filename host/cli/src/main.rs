//! `juki`: the resident registry card CLI. See `juki --help`.

use std::process::ExitCode;

use clap::Parser;

use juki_cli::{args, note, output};

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = juki_cli::run(cli);
    let unwritten = output::finish();
    match result {
        Err(e) => {
            note!("juki: error: {e}");
            ExitCode::from(e.exit_code())
        }
        Ok(()) => match unwritten {
            Some(e) => {
                note!("juki: error: writing the output: {e}");
                ExitCode::FAILURE
            }
            None => ExitCode::SUCCESS,
        },
    }
}

//! `juki`: the resident registry card CLI. See `juki --help`.

mod cli;
mod commands;
mod counter_cmd;
mod jpki_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("juki: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

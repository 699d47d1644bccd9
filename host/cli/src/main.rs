//! `juki`: the resident registry card CLI. See `juki --help`.

use juki_cli::{cli, commands};

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

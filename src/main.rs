//! The `trailwatch` command line: replay CloudTrail logs through the engine.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // Help and version are not errors; usage errors exit 1 (the CLI contract).
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("trailwatch: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}

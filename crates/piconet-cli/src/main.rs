//! `piconet`: the command line for piconet servers.

mod args;
mod cmd;
mod error;
mod exit;
mod fields;

use std::process::ExitCode;

use crate::error::Failure;

fn main() -> ExitCode {
    let cli = args::Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("piconet: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let result = runtime.block_on(cmd::run(cli, &mut stdout));
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            report(&failure, json, &mut stdout);
            ExitCode::from(failure.code())
        }
    }
}

fn report(failure: &Failure, json: bool, stdout: &mut dyn std::io::Write) {
    // With --json a server's error answer goes to stdout too, as the others do.
    if let (true, Failure::Client(piconet_client::Error::Server { response, .. })) = (json, failure)
    {
        let _ = writeln!(stdout, "{response}");
    }
    eprintln!("piconet: {failure}");
}

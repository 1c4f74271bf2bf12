//! `piconet`: the command line for piconet servers.

mod args;
mod bench;
mod exit;
mod fields;
mod firmware;
mod provision;
mod run;
mod update;

use std::process::ExitCode;

use crate::run::Failure;

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
    let result = runtime.block_on(run::run(cli, &mut stdout));
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            report(&failure, json, &mut stdout);
            ExitCode::from(failure.code())
        }
    }
}

fn report(failure: &Failure, json: bool, stdout: &mut dyn std::io::Write) {
    match failure {
        // The answers themselves are on stdout already.
        Failure::ErrorAnswers => eprintln!("piconet: the server answered with an error"),
        Failure::Client(error) => {
            if let (true, piconet_client::Error::Server { response, .. }) = (json, error) {
                let _ = writeln!(stdout, "{response}");
            }
            eprintln!("piconet: {error}");
        }
        Failure::Usage(message)
        | Failure::Bench(message)
        | Failure::Update(message)
        | Failure::Provision(_, message) => {
            eprintln!("piconet: {message}")
        }
        Failure::Output(error) => eprintln!("piconet: cannot write the output: {error}"),
    }
}

use std::process::ExitCode;

fn main() -> ExitCode {
    // Started as `bootstrap` by Lambda: the runner (see tierctl::runner).
    if tierctl::runner::started_as_runner() {
        return tierctl::runner::main();
    }
    match tierctl::cli::run() {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            tierctl::exit::Exit::Error.into()
        }
    }
}

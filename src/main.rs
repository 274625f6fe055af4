use std::process::ExitCode;

fn main() -> ExitCode {
    match tierctl::cli::run() {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            tierctl::exit::Exit::Error.into()
        }
    }
}

//! `kbench`: parse the command line, run it, turn its outcome into an exit code.
use clap::Parser;

fn main() {
    let cli = kbench::cli::Cli::parse();
    let code = match kbench::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kbench: {e:#}");
            kbench::cli::exit_code(&e)
        }
    };
    std::process::exit(code);
}

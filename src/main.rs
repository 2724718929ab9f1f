//! The `noticefeed` binary: parse flags, set up logging, run, map the outcome to an exit code
//! cron can act on (0 all written, 1 something failed and the rest was written, 2 could not start).

use std::process::ExitCode;

use clap::Parser;
use noticefeed::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.quiet, cli.global.verbose);
    match noticefeed::app::run(&cli) {
        Ok(outcome) if outcome.ok() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!(
                "error: {}",
                noticefeed::normalize::printable(&format!("{e:#}"))
            );
            ExitCode::from(2)
        }
    }
}

/// `warn` by default so cron mails only on trouble; RUST_LOG wins over the flags.
fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    // Messages carry text from sites and notice files: control characters are escaped before
    // they reach the operator's terminal or cron's mail.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format(|buf, record| {
            use std::io::Write as _;
            let style = buf.default_level_style(record.level());
            let text = record.args().to_string();
            writeln!(
                buf,
                "[{style}{:<5}{style:#}] {}",
                record.level(),
                noticefeed::normalize::printable(&text)
            )
        })
        .init();
}

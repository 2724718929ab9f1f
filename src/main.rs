//! The `noticefeed` binary: parse flags, set up logging, run, map the outcome to an exit code
//! cron can act on (0 all written, 1 something failed and the rest was written, 2 could not start).

use std::process::ExitCode;

use clap::Parser;
use noticefeed::cli::{Cli, Command};
use noticefeed::commands;
use noticefeed::run::Outcome;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.quiet, cli.global.verbose);
    // A panic is a bug some input reached: said once, escaped like every message. Each feed's
    // work is isolated in `run` (that feed fails, exit 1); one outside it still ends as exit 1
    // with what was written kept, never the runtime's 101.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: internal error, please report it: {}",
            noticefeed::text::printable(&info.to_string().replace('\n', " "))
        );
    }));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(&cli)));
    let Ok(result) = result else {
        return ExitCode::from(1);
    };
    match result {
        Ok(outcome) if outcome.ok() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}", noticefeed::text::printable(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Runs the command named. `Err` means the run could not start (exit 2).
fn dispatch(cli: &Cli) -> anyhow::Result<Outcome> {
    let global = &cli.global;
    match &cli.command {
        Command::Build(args) => commands::build::run(global, args),
        Command::Check(args) => commands::check::run(global, args),
        Command::List => commands::list::run(global),
        Command::Serve(args) => commands::serve::run(global, args),
        Command::Init(args) => commands::init::run(args),
        Command::Fetch(args) => commands::fetch::run(global, args),
        Command::Completions(args) => commands::shell::completions(args),
        Command::Man => commands::shell::man(),
    }
}

/// `warn` by default so cron mails only on trouble; `-v` adds noticefeed's progress lines,
/// `-vv` its debugging (every request). Other crates (html5ever, hyper, reqwest, rustls) speak
/// only at `warn` unless `RUST_LOG` asks for more; `RUST_LOG` wins over the flags.
///
/// One message style everywhere, as cargo's: `error: …`, `warning: …`; progress lines bare.
fn init_logging(quiet: bool, verbose: u8) {
    let ours = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let others = if quiet { "error" } else { "warn" };
    let filter = format!("{others},noticefeed={ours}");
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter))
        .format(|buf, record| {
            use std::io::Write as _;
            let prefix = match record.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                log::Level::Info => "",
                log::Level::Debug => "debug: ",
                log::Level::Trace => "trace: ",
            };
            // Messages carry text from sites and notice files: control characters are escaped
            // before they reach the operator's terminal or cron's mail.
            let text = record.args().to_string();
            writeln!(buf, "{prefix}{}", noticefeed::text::printable(&text))
        })
        .init();
}

//! `relay`: parses the command line and runs the chosen command.

use std::process::ExitCode;

use clap::Parser;
use relay_proxy::cli::{self, Cli, Command};
use relay_proxy::{logging, server};
use relay_shared::config;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (path, required) = cli.config_path();
    let config = match config::load(&path, required) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("invalid configuration {}:\n{e}", path.display());
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if command == Command::CheckConfig {
        if let Err(e) = cli::check_secrets(&config, |k| std::env::var(k).ok()) {
            eprintln!("invalid configuration {}:\n{e}", path.display());
            return ExitCode::from(2);
        }
        println!("configuration {} is valid", path.display());
        return ExitCode::SUCCESS;
    }
    if command == Command::Healthcheck {
        return cli::healthcheck::run(&config);
    }
    logging::init(&config.log);
    let source = relay_proxy::reload::Source { path, required };
    let result = match command {
        Command::Serve => server::run_front_door(config.clone(), config.admin.embedded, source),
        Command::Proxy => server::run_front_door(config, false, source),
        Command::Admin => server::run_admin_only(config),
        Command::Migrate => server::run_migrate(&config),
        Command::ResetAdminPassword => server::run_reset_admin_password(&config),
        Command::CheckConfig | Command::Healthcheck => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

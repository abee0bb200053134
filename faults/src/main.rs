//! `faults`: runs the fault-injection suite and prints its table.
//!
//! `scripts/faults [--quick] [scenario…]` builds the binaries and runs this.

use std::path::PathBuf;

use clap::Parser;
use faults::{Scale, Suite, report, scenarios, services, system::Binaries};

#[derive(Parser)]
#[command(about = "pagesmith's fault-injection suite")]
struct Cli {
    /// Where the bot, worker and preview binaries are.
    #[arg(long, env = "FAULTS_BIN_DIR")]
    bin_dir: PathBuf,
    /// The short run `.ci/run` uses.
    #[arg(long)]
    quick: bool,
    /// Keep the processes' logs even when every scenario passes.
    #[arg(long)]
    keep_logs: bool,
    /// Also write the table to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Scenarios to run (default: all).
    scenarios: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let names: Vec<String> = if cli.scenarios.is_empty() {
        scenarios::ALL.iter().map(|s| (*s).to_owned()).collect()
    } else {
        cli.scenarios.clone()
    };
    let run_dir = tempfile::Builder::new().prefix("faults-run-").tempdir()?;
    eprintln!("[faults] logs in {}", run_dir.path().display());
    let suite = Suite {
        binaries: Binaries::in_dir(&cli.bin_dir)?,
        postgres: services::Postgres::start().await?,
        rabbit: services::Rabbit::start().await?,
        run_dir: run_dir.path().to_path_buf(),
        scale: if cli.quick { Scale::Quick } else { Scale::Full },
    };

    let mut rows = Vec::new();
    let mut failed = false;
    for name in &names {
        eprintln!("[faults] {name}…");
        match scenarios::run(&suite, name).await {
            Ok(row) => {
                eprintln!(
                    "[faults] {name}: {} in {:.1} s",
                    if row.passed() { "passed" } else { "FAILED" },
                    row.took.as_secs_f64()
                );
                for problem in &row.tally.problems {
                    eprintln!("[faults]   {problem}");
                }
                failed |= !row.passed();
                rows.push(row);
            }
            Err(e) => {
                eprintln!("[faults] {name}: could not run: {e:#}");
                failed = true;
            }
        }
    }
    // Stop the private servers now: `exit` below would skip their Drop.
    drop(suite);
    let table = report::markdown(&rows);
    println!("{table}");
    if let Some(path) = cli.report {
        std::fs::write(path, &table)?;
    }
    if failed || cli.keep_logs {
        let kept = run_dir.keep();
        eprintln!("[faults] logs kept in {}", kept.display());
    }
    if failed {
        eprintln!("[faults] FAILED");
        std::process::exit(1);
    }
    Ok(())
}

//! The fault-injection suite. It runs the real `bot`, `worker` and
//! `preview` binaries against private PostgreSQL and RabbitMQ servers it
//! may stop, restart and kill, with local fakes for Telegram, the LLM and
//! the evaluators, and proves after each scenario that nothing accepted was
//! lost, doubled or late. `scripts/faults` builds the binaries and runs it.

pub mod ledger;
pub mod report;
pub mod scenarios;
pub mod services;
pub mod system;
pub mod wait;

use std::path::PathBuf;

use services::{Postgres, Rabbit};
use system::Binaries;

/// How hard to push: `Quick` is what `.ci/run` runs; `Full` is the figures
/// in RELIABILITY.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Quick,
    Full,
}

impl Scale {
    /// `quick` in the quick run, `full` otherwise.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Scale::Quick => quick,
            Scale::Full => full,
        }
    }
}

/// What every scenario shares: the binaries and the private servers.
pub struct Suite {
    pub binaries: Binaries,
    pub postgres: Postgres,
    pub rabbit: Rabbit,
    pub run_dir: PathBuf,
    pub scale: Scale,
}

/// A port nobody listens on now (the OS's pick; bound and released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

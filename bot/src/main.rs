//! `bot`: see the library crate for what it does.

use anyhow::Context;
use bot::{Application, Settings};
use clap::{Parser, Subcommand};
use url::Url;

/// mimalloc instead of glibc's malloc: every request allocates (headers,
/// the parsed update, the job's JSON), and glibc's allocator took about a
/// seventh of the bot's CPU under the ingress benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "pagesmith ingress: Telegram webhook, /app, job status, outbox relay")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and relay the outbox (the default).
    Serve,
    /// Apply pending database migrations and exit (compose's one-shot
    /// `migrate` service; every binary also migrates at start-up).
    Migrate,
    /// Convert every queue to AMQP_QUEUE_TYPE (e.g. classic → quorum),
    /// messages included, then exit. Stop the bot and workers first.
    ConvertQueues,
    /// Register the webhook with Telegram (setWebhook).
    SetWebhook {
        /// The public https URL of /telegram/webhook. Defaults to TELEGRAM_WEBHOOK_URL.
        #[arg(long)]
        url: Option<Url>,
        /// Drop updates Telegram queued while no webhook was set.
        #[arg(long)]
        drop_pending_updates: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    pagesmith::telemetry::init(settings.common.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Migrate => {
            pagesmith::db::connect_and_migrate(&settings.common).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::ConvertQueues => {
            let common = &settings.common;
            let connection = common.brokers.connect("pagesmith-convert-queues").await?;
            let report = pagesmith::queue::convert(&connection, &common.topology()).await?;
            for (queue, moved) in &report.converted {
                println!(
                    "converted {queue} to {} ({moved} messages moved)",
                    common.queue_type
                );
            }
            println!(
                "{} queues converted, {} already {}",
                report.converted.len(),
                report.unchanged.len(),
                common.queue_type
            );
            let _ = connection.close(200, "converted".into()).await;
            Ok(())
        }
        Command::SetWebhook {
            url,
            drop_pending_updates,
        } => {
            if settings.telegram.mode == bot::settings::TelegramMode::Polling {
                anyhow::bail!(
                    "TELEGRAM_MODE=polling: a webhook would stop polling; set TELEGRAM_MODE=webhook first"
                );
            }
            let url = url
                .or_else(|| settings.telegram.webhook_url.clone())
                .context("pass --url or set TELEGRAM_WEBHOOK_URL")?;
            bot::webhook::set_webhook(&settings.telegram, url, drop_pending_updates).await
        }
    }
}

//! `bot set-webhook`: registers our webhook with Telegram.

use anyhow::Context;
use secrecy::ExposeSecret;
use teloxide_core::{Bot, payloads::SetWebhookSetters, requests::Requester, types::AllowedUpdate};
use url::Url;

use crate::settings::TelegramSettings;

/// Calls `setWebhook` with our secret token, the two update types we handle
/// and the connection limit.
pub async fn set_webhook(
    telegram: &TelegramSettings,
    url: Url,
    drop_pending_updates: bool,
) -> anyhow::Result<()> {
    if url.scheme() != "https" {
        tracing::warn!(%url, "Telegram only delivers webhooks to https URLs");
    }
    let bot = Bot::new(telegram.token.expose_secret()).set_api_url(telegram.api_url.clone());
    bot.set_webhook(url.clone())
        .secret_token(telegram.webhook_secret.expose_secret())
        .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
        .max_connections(telegram.webhook_max_connections)
        .drop_pending_updates(drop_pending_updates)
        .await
        .with_context(|| format!("setWebhook to {url} failed"))?;
    tracing::info!(%url, "webhook registered");
    Ok(())
}

//! Steady load for the restart scenarios: `/app` requests and Telegram
//! updates at fixed rates, each retried (as Telegram and evaluators retry)
//! until the bot answers 200, with every answer counted.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    ledger::{Accepted, AppKey},
    services::Server,
    system::{System, message_update},
};

/// Every answer the bot gave, by status (`0`: no answer at all).
#[derive(Debug, Default, Clone)]
pub struct Answers {
    pub by_status: BTreeMap<u16, usize>,
}

impl Answers {
    pub fn describe(&self) -> String {
        self.by_status
            .iter()
            .map(|(status, n)| match status {
                0 => format!("{n}× no answer"),
                s => format!("{n}× {s}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn count(&self, status: u16) -> usize {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    pub fn non_200(&self) -> usize {
        self.by_status
            .iter()
            .filter(|(s, _)| **s != 200)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Sends one `/app` request and one update every `period` until `stop`;
/// returns what was accepted and every answer seen.
pub async fn steady(
    system: Arc<System>,
    label: &'static str,
    period: Duration,
    stop: CancellationToken,
) -> (Accepted, Answers) {
    let answers = Arc::new(Mutex::new(Answers::default()));
    let accepted = Arc::new(Mutex::new(Accepted::default()));
    let mut ticker = tokio::time::interval(period);
    let mut senders = Vec::new();
    let mut i: i64 = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = stop.cancelled() => break,
        }
        i += 1;
        let key = AppKey {
            task: format!("{label}-{i}"),
            round: 1,
            nonce: format!("{label}-nonce-{i}"),
        };
        let update_id = 1_000_000 + i;
        let text = if i % 2 == 0 {
            "/help".to_owned()
        } else {
            format!("A page about {label} number {i}")
        };
        let update = message_update(update_id, 100 + i % 10, &text);
        let (system, answers, accepted) = (system.clone(), answers.clone(), accepted.clone());
        senders.push(tokio::spawn(async move {
            let body = system.app_request(&key.task, key.round, &key.nonce);
            let app = retry_until_200(&answers, || system.post_app(&body));
            let telegram = retry_until_200(&answers, || system.post_update(&update));
            tokio::join!(app, telegram);
            let mut accepted = accepted.lock().expect("not poisoned");
            accepted.app.push(key);
            accepted.updates.push(update_id);
        }));
    }
    for sender in senders {
        let _ = sender.await;
    }
    let accepted = std::mem::take(&mut *accepted.lock().expect("not poisoned"));
    let answers = answers.lock().expect("not poisoned").clone();
    (accepted, answers)
}

/// Sends until 200 (at most 2 minutes), counting every answer.
async fn retry_until_200<F, Fut>(answers: &Mutex<Answers>, mut send: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<reqwest::StatusCode>>,
{
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let status = send().await.map_or(0, |s| s.as_u16());
        *answers
            .lock()
            .expect("not poisoned")
            .by_status
            .entry(status)
            .or_default() += 1;
        if status == 200 || Instant::now() > give_up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What happened around an outage.
pub struct Outage {
    pub accepted: Accepted,
    pub answers: Answers,
    /// Jobs generating, checking or publishing when the server went.
    pub in_flight: i64,
    /// From the stop until the server took connections again.
    pub down: Duration,
    /// How long the load ran.
    pub load_ran: Duration,
}

/// Steady load for `warm_up`, then `server` stops for `down_for` and comes
/// back, then `warm_up` more load.
pub async fn through_outage<S: Server>(
    system: &Arc<System>,
    server: &S,
    label: &'static str,
    period: Duration,
    warm_up: Duration,
    down_for: Duration,
) -> anyhow::Result<Outage> {
    let started = Instant::now();
    let stop = CancellationToken::new();
    let load = tokio::spawn(steady(system.clone(), label, period, stop.clone()));
    tokio::time::sleep(warm_up).await;
    let in_flight = system
        .count("SELECT count(*) FROM jobs WHERE state IN ('generating', 'checking', 'publishing')")
        .await?;
    let stopped = Instant::now();
    server.stop().await?;
    tokio::time::sleep(down_for).await;
    server.start_again().await?;
    let down = stopped.elapsed();
    tokio::time::sleep(warm_up).await;
    stop.cancel();
    let load_ran = started.elapsed();
    let (accepted, answers) = load.await?;
    Ok(Outage {
        accepted,
        answers,
        in_flight,
        down,
        load_ran,
    })
}

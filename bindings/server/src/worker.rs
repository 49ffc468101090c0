//! The timer worker: sleeps until the engine's next due timer (at most a minute, so timers
//! another process scheduled are seen too; an act through the portal wakes it at once, and
//! on PostgreSQL so does another process's commit of a timer due soon or an outbox row), then
//! fires what is due and delivers the outbox; and runs retention when its schedule says so
//! (`[retention]`, [`crate::jobs::retention_round`]). Not a busy loop.

use std::time::Duration;

use tokio::sync::watch;

use crate::App;

/// The longest sleep between looks at the next due time.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How long to sleep before the next sweep, given the next due time.
pub fn sleep_for(
    now: chrono::DateTime<chrono::Utc>,
    next: Option<chrono::DateTime<chrono::Utc>>,
) -> Duration {
    match next {
        None => MAX_SLEEP,
        Some(due) => (due - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP),
    }
}

/// Run until `stop` turns true. A sweep in progress finishes first.
pub async fn run(app: App, mut stop: watch::Receiver<bool>) {
    // Other processes' commits (a timer due soon, an outbox row) wake it early on PostgreSQL;
    // it polls anyway.
    let waker = app.clone();
    let _wakeups = match app
        .run(move |e| e.wake_on_commits(move || waker.wake()))
        .await
    {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                "no wake-ups from other processes (the worker polls): {}",
                e.message()
            );
            None
        }
    };
    let mut retention = app.config().retention.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        match app.run(|e| e.tick()).await {
            Ok(r) => {
                if r.fired > 0 || r.delivered > 0 || !r.failed.is_empty() || r.delivery_failures > 0
                {
                    tracing::info!(
                        fired = r.fired,
                        delivered = r.delivered,
                        failed = r.failed.len(),
                        delivery_failures = r.delivery_failures,
                        "timer sweep"
                    );
                }
                for f in &r.failed {
                    tracing::warn!("timer failed: {f}");
                }
            }
            Err(e) => tracing::error!("timer sweep failed: {}", e.message()),
        }
        if let Some(timer) = retention.take() {
            let round = app
                .run(move |e| {
                    let mut timer = timer;
                    let outcome = crate::jobs::retention_round(e, &mut timer);
                    Ok((timer, outcome))
                })
                .await;
            retention = match round {
                Ok((timer, outcome)) => {
                    match outcome {
                        Some(Ok(line)) => tracing::info!("{line}"),
                        Some(Err(line)) => tracing::error!("{line}"),
                        None => {}
                    }
                    Some(timer)
                }
                // the round's task failed: start the schedule again
                Err(_) => app.config().retention.clone(),
            };
        }
        let pause = match app.run(|e| Ok((e.now(), e.next_due()?))).await {
            Ok((now, next)) => {
                let pause = sleep_for(now, next);
                crate::jobs::until_retention(retention.as_ref(), now)
                    .map_or(pause, |r| pause.min(r))
            }
            Err(_) => MAX_SLEEP,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = app.inner.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

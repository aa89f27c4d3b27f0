//! Relay wake-ups from `LISTEN mentor_status_sync` (the outbox trigger NOTIFYs at commit).
//!
//! One listening connection per store (the store keeps a receiver), started by the first relay that
//! asks; it ends when the store and every relay are gone. A lost connection is re-opened after a pause; whatever was NOTIFYed meanwhile
//! is covered by a wake-up on reconnect and by the relays' polling.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use store::SyncWakeups;
use tokio::sync::watch;

const CHANNEL: &str = "mentor_status_sync";
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Start listening; the receiver's value moves on every notification.
pub(crate) fn start(pool: PgPool) -> SyncWakeups {
    let (sender, receiver) = watch::channel(0u64);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = sender.closed() => return,
                result = listen(&pool, &sender) => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "relay wake-ups lost their connection; relays poll meanwhile");
                    }
                }
            }
            tokio::select! {
                () = sender.closed() => return,
                () = tokio::time::sleep(RECONNECT_PAUSE) => {}
            }
        }
    });
    receiver
}

async fn listen(pool: &PgPool, sender: &watch::Sender<u64>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Rows may have been queued while no one listened.
    sender.send_modify(|n| *n += 1);
    loop {
        listener.recv().await?;
        sender.send_modify(|n| *n += 1);
    }
}

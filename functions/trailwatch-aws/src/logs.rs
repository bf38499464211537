//! The logs function: a CloudWatch Logs subscription (`{"awslogs":{"data":…}}`) whose
//! log events are CloudTrail records. The engine decodes the envelope itself (base64,
//! gzip with its size cap); control messages are skipped there.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::Services;
use crate::ingest::{IngestError, now, run_engine, send_alerts};
use crate::metrics::Metrics;
use crate::outbox::Outbox;

/// Handles one subscription delivery; an error makes Lambda retry it.
pub async fn handle(svc: Arc<Services>, event: Value) -> Result<(), IngestError> {
    let Some(data) = event.pointer("/awslogs/data").and_then(Value::as_str) else {
        return Err(IngestError(
            "not a CloudWatch Logs subscription event (no awslogs.data)".into(),
        ));
    };
    // Lambda retries a failed delivery with the same payload: its unsent alerts wait here.
    let outbox = Outbox::for_payload(data.as_bytes());
    let bytes = serde_json::to_vec(&event).map_err(|e| IngestError(e.to_string()))?;
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    let result = async {
        let (stats, findings) = match run_engine(&svc, Cursor::new(bytes)).await {
            Ok(done) => done,
            // What was found before the failure is alerted (and claimed) all the same.
            Err(failed) => {
                return Err(
                    match send_alerts(&svc, failed.findings, &metrics, &outbox).await {
                        Ok(()) => failed.error,
                        Err(e) => format!("{}; {e}", failed.error),
                    },
                );
            }
        };
        metrics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .file(&stats, now());
        send_alerts(&svc, findings, &metrics, &outbox).await
    }
    .await;
    let metrics = std::mem::take(&mut *metrics.lock().unwrap_or_else(|e| e.into_inner()));
    svc.metrics.flush(metrics).await;
    result.map_err(IngestError)
}

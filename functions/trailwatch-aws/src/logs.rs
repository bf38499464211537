//! The logs function: a CloudWatch Logs subscription (`{"awslogs":{"data":…}}`) whose
//! log events are CloudTrail records. The engine decodes the envelope itself (base64,
//! gzip with its size cap); control messages are skipped there.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::Services;
use crate::ingest::{GiveUp, IngestError, now, run_engine, send_alerts};
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
        let (batch, result) = run_engine(
            &svc,
            Cursor::new(bytes),
            svc.engine.policy().batch(),
            &GiveUp::default(),
        )
        .await;
        if let Ok(stats) = &result {
            metrics
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .file(stats, now());
        }
        // What was found before a failure is alerted (and claimed) all the same.
        let sent = send_alerts(&svc, batch, &metrics, &outbox).await;
        match (result, sent) {
            (Ok(_), sent) => sent,
            (Err(error), Ok(())) => Err(error),
            (Err(error), Err(e)) => Err(format!("{error}; {e}")),
        }
    }
    .await;
    let metrics = std::mem::take(&mut *metrics.lock().unwrap_or_else(|e| e.into_inner()));
    svc.metrics.flush(metrics).await;
    result.map_err(IngestError)
}

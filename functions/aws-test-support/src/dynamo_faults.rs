//! A proxy in front of moto that makes DynamoDB calls on some keys fail on purpose; see
//! [`DynamoFaultProxy`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::gateway::forward;
use crate::proxy::{INJECTED_MESSAGE, Proxy, lock};

const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const READS: [&str; 4] = ["GetItem", "BatchGetItem", "Query", "Scan"];
const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

/// What the proxy does to DynamoDB calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DynamoFault {
    /// Nothing: every call goes to moto as it is.
    #[default]
    None,
    /// Reads (`GetItem`, `BatchGetItem`, `Query`, `Scan`) whose request body contains this
    /// text anywhere (a key, or a part of one, say) are answered `500 InternalServerError`
    /// without reaching moto: the whole call, also the other items of a batch.
    FailReadsOf(String),
    /// The same for writes (`PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem`,
    /// `TransactWriteItems`).
    FailWritesOf(String),
    /// The same for `PutItem` alone (the single-item writes, conditional claims among
    /// them): a batch of plain puts of the same key still goes through.
    FailPutItemsOf(String),
    /// The first call of this operation (`PutItem`, `UpdateItem`) whose body contains the
    /// text reaches moto, and its answer is replaced by the 500: a write made whose answer
    /// was lost, which the SDK retries. Later calls go through. Counted in
    /// [`DynamoFaultProxy::failed_calls`].
    LoseAnswerOf(&'static str, String),
}

/// A test-only HTTP proxy on 127.0.0.1 for the DynamoDB client, in front of moto.
/// Calls are picked by their operation and a text in their request body.
///
/// Every call is forwarded to moto unchanged except those the configured [`DynamoFault`]
/// fails: they never reach moto, so the table does not change, and the client gets the
/// error DynamoDB gives when it is having trouble (one the SDK retries, and then returns).
/// The proxy counts the calls it failed ([`DynamoFaultProxy::failed_calls`]).
#[derive(Debug)]
pub struct DynamoFaultProxy {
    proxy: Proxy,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    fault: DynamoFault,
    /// Operation names of the calls failed on purpose, oldest first.
    failed: Vec<String>,
}

impl DynamoFaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 in front of `upstream`
    /// (`http://127.0.0.1:PORT`, such as [`crate::Moto::endpoint`]), with no fault set.
    ///
    /// # Panics
    ///
    /// If `upstream` is not `http://` to a loopback address, or no port can be bound.
    pub fn start(upstream: &str) -> DynamoFaultProxy {
        let state = Arc::new(Mutex::new(State::default()));
        let served = Arc::clone(&state);
        let proxy = Proxy::start(
            "dynamo-fault-proxy",
            upstream,
            Arc::new(move |upstream, parts, body| {
                Box::pin(handle(upstream, Arc::clone(&served), parts, body))
            }),
        );
        DynamoFaultProxy { proxy, state }
    }

    /// `http://127.0.0.1:PORT`, for the DynamoDB client's `endpoint_url`.
    pub fn endpoint(&self) -> &str {
        self.proxy.endpoint()
    }

    /// Sets what happens to the calls from now on.
    pub fn set_fault(&self, fault: DynamoFault) {
        lock(&self.state).fault = fault;
    }

    /// The operations of the calls failed on purpose so far, oldest first.
    pub fn failed_calls(&self) -> Vec<String> {
        lock(&self.state).failed.clone()
    }
}

/// Whether `fault` fails the call `operation` with request `body`.
fn fails(fault: &DynamoFault, operation: &str, body: &[u8]) -> bool {
    let (operations, text): (&[&str], &str) = match fault {
        DynamoFault::None => return false,
        DynamoFault::FailReadsOf(text) => (&READS, text),
        DynamoFault::FailWritesOf(text) => (&WRITES, text),
        DynamoFault::FailPutItemsOf(text) => (&["PutItem"], text),
        DynamoFault::LoseAnswerOf(operation, text) => (std::slice::from_ref(operation), text),
    };
    operations.contains(&operation) && String::from_utf8_lossy(body).contains(text)
}

async fn handle(
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
    parts: http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let operation = parts
        .headers
        .get(X_AMZ_TARGET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    let (failed, lose_answer) = {
        let mut state = lock(&state);
        let failed = fails(&state.fault, &operation, &body);
        let lose_answer = matches!(state.fault, DynamoFault::LoseAnswerOf(..));
        if failed {
            state.failed.push(operation);
            if lose_answer {
                // Once: the SDK's retry goes through.
                state.fault = DynamoFault::None;
            }
        }
        (failed, lose_answer)
    };
    if !failed {
        return forward(upstream, parts, body).await;
    }
    if lose_answer {
        let _made = forward(upstream, parts, body).await;
    }
    let error = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "message": INJECTED_MESSAGE,
    });
    let mut response = Response::new(Full::new(Bytes::from(error.to_string())));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_pick_their_operations_and_keys() {
        let body = br#"{"TableName":"t","Key":{"pk":{"S":"outbox/abc/n"}}}"#;
        let reads = DynamoFault::FailReadsOf("outbox/".into());
        let writes = DynamoFault::FailWritesOf("outbox/".into());
        assert!(fails(&reads, "GetItem", body));
        assert!(!fails(&reads, "UpdateItem", body));
        assert!(fails(&writes, "UpdateItem", body));
        assert!(!fails(
            &writes,
            "UpdateItem",
            br#"{"Key":{"pk":{"S":"claim/abc"}}}"#
        ));
        assert!(!fails(&DynamoFault::None, "GetItem", body));
    }
}

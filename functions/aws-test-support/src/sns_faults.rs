//! A proxy in front of moto that makes SNS `PublishBatch` fail on purpose; see
//! [`SnsFaultProxy`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use tokio::sync::Notify;

use crate::gateway::forward;
use crate::proxy::{INJECTED_MESSAGE, Proxy, lock};

const ENTRY_PREFIX: &str = "PublishBatchRequestEntries.member.";
const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// What the proxy does to `PublishBatch` calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SnsFault {
    /// Nothing: every call goes to moto as it is.
    #[default]
    None,
    /// Entries whose message contains this text are not forwarded; the answer lists them
    /// under `Failed` (`InternalError`, `SenderFault` false: worth retrying), beside
    /// moto's own `Successful` entries for the rest. SNS's partial success.
    RejectEntriesContaining(String),
    /// The first `n` calls (counted from when the fault is set) go through; every later
    /// call is answered `500 InternalError` without reaching moto. SNS going away in the
    /// middle of an invocation.
    FailCallsAfter(usize),
    /// Every call is held unanswered (it never reaches moto): SNS hanging, which an
    /// invocation meets as its timeout. [`SnsFaultProxy::held`] waits for one.
    Hang,
}

/// One `PublishBatch` the proxy saw.
#[derive(Debug, Clone)]
pub struct PublishBatchCall {
    /// When it arrived.
    pub at: Instant,
    /// `(Id, Message)` of each entry, in request order.
    pub entries: Vec<(String, String)>,
    /// Ids of the entries answered as `Failed` by the proxy.
    pub rejected: Vec<String>,
    /// Whether the whole call was answered with an error by the proxy.
    pub failed: bool,
}

#[derive(Debug, Default)]
struct State {
    fault: SnsFault,
    /// Calls seen since the fault was set.
    since_fault: usize,
    calls: Vec<PublishBatchCall>,
}

/// A test-only HTTP proxy on 127.0.0.1 for the SNS client, in front of moto.
///
/// Every request is forwarded to moto unchanged except Query-protocol `PublishBatch`
/// calls, which the configured [`SnsFault`] may answer in part or in whole with real SNS
/// error shapes; the proxy records each `PublishBatch` it sees
/// ([`SnsFaultProxy::publish_batch_calls`]). Entries it rejects never reach moto, so
/// subscribers do not get them: what a subscribed queue holds is what SNS accepted.
///
/// Like [`crate::CborGateway`], it runs on a thread of its own with its own Tokio runtime
/// and stops when dropped.
#[derive(Debug)]
pub struct SnsFaultProxy {
    proxy: Proxy,
    state: Arc<Mutex<State>>,
    /// Signalled for each call [`SnsFault::Hang`] holds.
    held: Arc<Notify>,
}

impl SnsFaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 in front of `upstream`
    /// (`http://127.0.0.1:PORT`, such as [`crate::Moto::endpoint`]), with no fault set.
    ///
    /// # Panics
    ///
    /// If `upstream` is not `http://` to a loopback address, or no port can be bound.
    pub fn start(upstream: &str) -> SnsFaultProxy {
        let state = Arc::new(Mutex::new(State::default()));
        let held = Arc::new(Notify::new());
        let (served, holds) = (Arc::clone(&state), Arc::clone(&held));
        let proxy = Proxy::start(
            "sns-fault-proxy",
            upstream,
            Arc::new(move |upstream, parts, body| {
                Box::pin(handle(
                    upstream,
                    Arc::clone(&served),
                    Arc::clone(&holds),
                    parts,
                    body,
                ))
            }),
        );
        SnsFaultProxy { proxy, state, held }
    }

    /// `http://127.0.0.1:PORT`, for the SNS client's `endpoint_url`.
    pub fn endpoint(&self) -> &str {
        self.proxy.endpoint()
    }

    /// Sets what happens to the `PublishBatch` calls from now on.
    pub fn set_fault(&self, fault: SnsFault) {
        let mut state = lock(&self.state);
        state.fault = fault;
        state.since_fault = 0;
    }

    /// Returns once [`SnsFault::Hang`] holds a call (at once if one was held since the
    /// last wait).
    pub async fn held(&self) {
        self.held.notified().await;
    }

    /// Every `PublishBatch` seen so far, oldest first.
    pub fn publish_batch_calls(&self) -> Vec<PublishBatchCall> {
        lock(&self.state).calls.clone()
    }
}

/// Form fields, in order.
type Fields = Vec<(String, String)>;

/// A `PublishBatch` request body, parsed: the other parameters, and each entry's fields.
struct Batch {
    params: Fields,
    /// `(Id, Message, fields after "member.N.")`, in member order.
    entries: Vec<(String, String, Fields)>,
}

impl Batch {
    fn parse(body: &[u8]) -> Option<Batch> {
        let pairs: Fields = form_urlencoded::parse(body).into_owned().collect();
        if !pairs.iter().any(|(k, v)| k == "Action" && v == "PublishBatch") {
            return None;
        }
        let mut params = Vec::new();
        let mut members: std::collections::BTreeMap<usize, Fields> = Default::default();
        for (key, value) in pairs {
            let member = key.strip_prefix(ENTRY_PREFIX).and_then(|rest| {
                let (n, field) = rest.split_once('.')?;
                Some((n.parse::<usize>().ok()?, field.to_owned()))
            });
            match member {
                Some((n, field)) => members.entry(n).or_default().push((field, value)),
                None => params.push((key, value)),
            }
        }
        let field = |fields: &[(String, String)], name: &str| {
            fields
                .iter()
                .find(|(f, _)| f == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let entries = members
            .into_values()
            .map(|fields| (field(&fields, "Id"), field(&fields, "Message"), fields))
            .collect();
        Some(Batch { params, entries })
    }

    /// The body with only the entries `keep` says yes to, numbered from 1 again.
    fn body(&self, keep: impl Fn(&str) -> bool) -> Bytes {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            out.append_pair(k, v);
        }
        let kept = self.entries.iter().filter(|(id, _, _)| keep(id));
        for (n, (_, _, fields)) in kept.enumerate() {
            for (field, value) in fields {
                out.append_pair(&format!("{ENTRY_PREFIX}{}.{field}", n + 1), value);
            }
        }
        Bytes::from(out.finish())
    }
}

async fn handle(
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
    held: Arc<Notify>,
    mut parts: http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let Some(batch) = Batch::parse(&body) else {
        return forward(upstream, parts, body).await;
    };
    let (rejected, fail_call, hang) = {
        let mut state = lock(&state);
        state.since_fault += 1;
        let hang = state.fault == SnsFault::Hang;
        let (rejected, fail_call) = match &state.fault {
            SnsFault::None | SnsFault::Hang => (Vec::new(), false),
            SnsFault::RejectEntriesContaining(needle) => (
                batch
                    .entries
                    .iter()
                    .filter(|(_, message, _)| message.contains(needle.as_str()))
                    .map(|(id, _, _)| id.clone())
                    .collect(),
                false,
            ),
            SnsFault::FailCallsAfter(n) => (Vec::new(), state.since_fault > *n),
        };
        state.calls.push(PublishBatchCall {
            at: Instant::now(),
            entries: batch
                .entries
                .iter()
                .map(|(id, message, _)| (id.clone(), message.clone()))
                .collect(),
            rejected: rejected.clone(),
            failed: fail_call,
        });
        (rejected, fail_call, hang)
    };
    if hang {
        held.notify_one();
        return std::future::pending().await;
    }
    if fail_call {
        return xml_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "<ErrorResponse xmlns=\"{SNS_XMLNS}\"><Error><Type>Receiver</Type><Code>InternalError</Code>\
                 <Message>{INJECTED_MESSAGE}</Message></Error><RequestId>sns-fault-proxy</RequestId></ErrorResponse>"
            ),
        );
    }
    if rejected.is_empty() {
        return forward(upstream, parts, body).await;
    }
    let failed: String = rejected
        .iter()
        .map(|id| {
            format!(
                "<member><Id>{}</Id><Code>InternalError</Code><Message>{INJECTED_MESSAGE}</Message>\
                 <SenderFault>false</SenderFault></member>",
                xml_escape(id)
            )
        })
        .collect();
    let all_rejected = batch.entries.iter().all(|(id, _, _)| rejected.contains(id));
    if all_rejected {
        return xml_response(
            StatusCode::OK,
            format!(
                "<PublishBatchResponse xmlns=\"{SNS_XMLNS}\"><PublishBatchResult><Successful/>\
                 <Failed>{failed}</Failed></PublishBatchResult><ResponseMetadata>\
                 <RequestId>sns-fault-proxy</RequestId></ResponseMetadata></PublishBatchResponse>"
            ),
        );
    }
    let forwarded = batch.body(|id| !rejected.iter().any(|r| r == id));
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(forwarded.len()));
    let response = forward(upstream, parts, forwarded).await;
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let merged = if text.contains("<Failed/>") {
        text.replacen("<Failed/>", &format!("<Failed>{failed}</Failed>"), 1)
    } else if text.contains("</Failed>") {
        text.replacen("</Failed>", &format!("{failed}</Failed>"), 1)
    } else {
        text.replacen(
            "</PublishBatchResult>",
            &format!("<Failed>{failed}</Failed></PublishBatchResult>"),
            1,
        )
    };
    let mut response = xml_response(parts.status, merged);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

fn xml_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_parse_and_renumber() {
        let body = "Action=PublishBatch&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At\
                    &PublishBatchRequestEntries.member.1.Id=0&PublishBatchRequestEntries.member.1.Message=a%26b\
                    &PublishBatchRequestEntries.member.2.Id=1&PublishBatchRequestEntries.member.2.Message=c\
                    &PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Name=severity";
        let batch = Batch::parse(body.as_bytes()).unwrap();
        let entries: Vec<(&str, &str)> = batch
            .entries
            .iter()
            .map(|(id, m, _)| (id.as_str(), m.as_str()))
            .collect();
        assert_eq!(entries, [("0", "a&b"), ("1", "c")]);
        let kept = batch.body(|id| id == "1");
        let again = Batch::parse(&kept).unwrap();
        assert_eq!(again.entries.len(), 1);
        assert_eq!(again.entries[0].0, "1");
        assert!(
            String::from_utf8_lossy(&kept)
                .contains("PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name=severity"),
            "{kept:?}"
        );
        assert!(Batch::parse(b"Action=Publish&Message=x").is_none());
    }
}

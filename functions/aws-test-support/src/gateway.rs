//! The rpcv2Cbor → awsJson1_0 gateway in front of moto; see [`CborGateway`].

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;

use crate::Moto;
use crate::proxy::Proxy;
use crate::translate::{self, Schema};

const SMITHY_PROTOCOL: HeaderName = HeaderName::from_static("smithy-protocol");
const RPC_V2_CBOR: HeaderValue = HeaderValue::from_static("rpc-v2-cbor");
const APPLICATION_CBOR: HeaderValue = HeaderValue::from_static("application/cbor");
const AMZ_JSON_1_0: HeaderValue = HeaderValue::from_static("application/x-amz-json-1.0");
const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
const X_AMZN_ERRORTYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
/// `__type` of errors the gateway makes up itself.
const GATEWAY_ERROR: &str = "TrailwatchCborGatewayError";
/// Largest request body accepted after gzip inflation.
const MAX_BODY: u64 = 64 << 20;
/// Bound on one upstream exchange.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones a proxy recomputes.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// A test-only HTTP server on 127.0.0.1 that lets Smithy RPC v2 CBOR clients talk to moto.
///
/// `aws-sdk-cloudwatch` speaks Smithy RPC v2 CBOR; moto serves CloudWatch's AWS JSON 1.0 (and
/// Query) protocol only. The gateway translates each rpcv2Cbor call into the awsJson1_0 call
/// for the same operation and the answer back:
///
/// | rpcv2Cbor request (from the SDK)                         | awsJson1_0 request (to moto)              |
/// |----------------------------------------------------------|-------------------------------------------|
/// | `POST /service/{Service}/operation/{Operation}`          | `POST /`                                  |
/// | `smithy-protocol: rpc-v2-cbor`, `accept: application/cbor` | (dropped)                               |
/// | `content-type: application/cbor`                         | `content-type: application/x-amz-json-1.0`|
/// |                                                          | `x-amz-target: {Service}.{Operation}`     |
/// | `content-encoding: gzip` (request compression)           | (dropped; the body is inflated)           |
/// | CBOR body                                                | JSON body ([`crate::translate`])          |
/// | every other header (`authorization`, `x-amz-date`, `x-amzn-query-mode`, ...) | unchanged        |
///
/// | awsJson1_0 response (from moto)                          | rpcv2Cbor response (to the SDK)           |
/// |----------------------------------------------------------|-------------------------------------------|
/// | status                                                   | same status                               |
/// | JSON body, error or not (`__type`, `message`)            | CBOR body, same members                   |
/// | `x-amzn-query-error: {Code};{Sender or Receiver}`        | unchanged: the SDK takes the error code from it (CloudWatch is `awsQueryCompatible`) |
/// | `x-amzn-requestid` and other headers                     | unchanged                                 |
/// | `content-type`                                           | `application/cbor`, plus `smithy-protocol: rpc-v2-cbor` |
/// | a body that is not JSON (moto crashed, say)              | CBOR `{__type, message}`; 502 if the status was a success |
///
/// Anything else (another path, or not a POST) is proxied to moto unchanged, but the intended
/// set-up is: the CloudWatch client on [`CborGateway::endpoint`], every other client on moto's.
///
/// It runs on a thread of its own with its own Tokio runtime, so one gateway can serve tests
/// that each have their own runtime (`#[tokio::test]`), and can be started from sync code.
/// Dropping it stops the server and joins the thread; [`CborGateway::shared`] lives until the
/// process exits.
#[derive(Debug)]
pub struct CborGateway {
    proxy: Proxy,
    upstream: String,
    stats: Arc<Stats>,
}

#[derive(Debug, Default)]
struct Stats {
    translated: AtomicU64,
    gzip: AtomicU64,
}

struct Context {
    upstream_authority: HeaderValue,
    stats: Arc<Stats>,
}

impl CborGateway {
    /// The gateway of this test process, in front of [`Moto::shared`], started on first use.
    pub fn shared() -> &'static CborGateway {
        static SHARED: OnceLock<CborGateway> = OnceLock::new();
        SHARED.get_or_init(|| CborGateway::start(Moto::shared().endpoint()))
    }

    /// Starts a gateway on a free port of 127.0.0.1 in front of `upstream`, an
    /// `http://127.0.0.1:PORT` endpoint such as [`Moto::endpoint`].
    ///
    /// The port is listening when this returns.
    ///
    /// # Panics
    ///
    /// If `upstream` is not `http://` to a loopback address, or no port can be bound.
    pub fn start(upstream: &str) -> CborGateway {
        let authority = upstream
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .unwrap_or_else(|| panic!("CborGateway upstream must be http://HOST:PORT, got {upstream:?}"));
        let stats = Arc::new(Stats::default());
        let context = Arc::new(Context {
            upstream_authority: HeaderValue::from_str(authority).expect("an address is a valid header value"),
            stats: Arc::clone(&stats),
        });
        let proxy = Proxy::start(
            "cbor-gateway",
            upstream,
            Arc::new(move |upstream, parts, body| {
                Box::pin(handle(upstream, Arc::clone(&context), parts, body))
            }),
        );
        CborGateway {
            proxy,
            upstream: upstream.to_owned(),
            stats,
        }
    }

    /// `http://127.0.0.1:PORT`, for the CloudWatch client's `endpoint_url`.
    pub fn endpoint(&self) -> &str {
        self.proxy.endpoint()
    }

    /// The endpoint requests are forwarded to.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// How many rpcv2Cbor requests were translated so far.
    pub fn translated_requests(&self) -> u64 {
        self.stats.translated.load(Ordering::Relaxed)
    }

    /// How many of them came gzip-compressed (the SDK compresses `PutMetricData` bodies above
    /// its `request_min_compression_size_bytes`, 10 KiB by default).
    pub fn gzip_requests(&self) -> u64 {
        self.stats.gzip.load(Ordering::Relaxed)
    }
}

async fn handle(
    upstream: SocketAddr,
    context: Arc<Context>,
    parts: http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let rpc = (parts.method == Method::POST)
        .then(|| rpc_target(parts.uri.path()))
        .flatten();
    match rpc {
        Some((service, operation)) => {
            translate_call(upstream, &context, parts, body, &service, &operation).await
        }
        None => forward(upstream, parts, body).await,
    }
}

/// `(service, operation)` of an rpcv2Cbor path: `/service/{service}/operation/{operation}`.
fn rpc_target(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/service/")?;
    let (service, operation) = rest.split_once("/operation/")?;
    let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (valid(service) && valid(operation)).then(|| (service.to_owned(), operation.to_owned()))
}

async fn translate_call(
    upstream: SocketAddr,
    context: &Context,
    parts: http::request::Parts,
    body: Bytes,
    service: &str,
    operation: &str,
) -> Response<Full<Bytes>> {
    context.stats.translated.fetch_add(1, Ordering::Relaxed);
    let gzipped = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let body = if gzipped {
        context.stats.gzip.fetch_add(1, Ordering::Relaxed);
        match inflate(&body) {
            Ok(inflated) => Bytes::from(inflated),
            Err(e) => {
                return cbor_error(
                    StatusCode::BAD_REQUEST,
                    GATEWAY_ERROR,
                    &format!("bad gzip body: {e}"),
                );
            }
        }
    } else {
        body
    };
    let json = match translate::request_body_to_json(&body) {
        Ok(json) => json,
        Err(e) => return cbor_error(StatusCode::BAD_REQUEST, "SerializationException", &e.to_string()),
    };
    let json_body = Bytes::from(serde_json::to_vec(&json).expect("a JSON value serializes"));

    let mut headers = parts.headers;
    strip(&mut headers);
    for name in [
        header::HOST,
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::ACCEPT,
        header::EXPECT,
        SMITHY_PROTOCOL,
    ] {
        headers.remove(name);
    }
    headers.insert(header::HOST, context.upstream_authority.clone());
    headers.insert(header::CONTENT_TYPE, AMZ_JSON_1_0);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(json_body.len()));
    headers.insert(
        X_AMZ_TARGET,
        HeaderValue::from_str(&format!("{service}.{operation}")).expect("checked to be alphanumeric"),
    );
    let mut upstream_request = Request::new(Full::new(json_body));
    *upstream_request.method_mut() = Method::POST;
    *upstream_request.uri_mut() = http::Uri::from_static("/");
    *upstream_request.headers_mut() = headers;

    let (status, mut headers, body) = match exchange(upstream, upstream_request).await {
        Ok(answer) => answer,
        Err(e) => return cbor_error(StatusCode::BAD_GATEWAY, GATEWAY_ERROR, &format!("moto: {e}")),
    };
    let schema = Schema::for_service(service);
    let (status, cbor) = match serde_json::from_slice::<Json>(&body) {
        Ok(json) => (status, translate::json_to_response_body(&json, schema)),
        Err(_) if body.is_empty() && status.is_success() => {
            (status, translate::json_to_response_body(&json!({}), schema))
        }
        Err(_) => {
            let error_type = headers
                .get(X_AMZN_ERRORTYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(GATEWAY_ERROR)
                .to_owned();
            let message = format!(
                "moto answered {status} with a body that is not JSON: {}",
                String::from_utf8_lossy(&body)
            );
            let status = if status.is_success() {
                StatusCode::BAD_GATEWAY
            } else {
                status
            };
            let error = json!({"__type": error_type, "message": message});
            (status, translate::json_to_response_body(&error, schema))
        }
    };
    strip(&mut headers);
    headers.remove(header::CONTENT_ENCODING);
    headers.insert(header::CONTENT_TYPE, APPLICATION_CBOR);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(cbor.len()));
    headers.insert(SMITHY_PROTOCOL, RPC_V2_CBOR);
    let mut response = Response::new(Full::new(Bytes::from(cbor)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Sends a request, its body read already, to `upstream` and answers with its response.
pub(crate) async fn forward(
    upstream: SocketAddr,
    mut parts: http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    strip(&mut parts.headers);
    // The whole body is here: no 100-continue dance with moto, and a length instead of chunks.
    parts.headers.remove(header::EXPECT);
    if chunked || !parts.headers.contains_key(header::CONTENT_LENGTH) {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = path.parse().expect("a path and query parse as a URI");
    let head = parts.method == Method::HEAD;
    let (status, mut headers, body) =
        match exchange(upstream, Request::from_parts(parts, Full::new(body))).await {
            Ok(answer) => answer,
            Err(e) => return text_response(StatusCode::BAD_GATEWAY, format!("moto: {e}")),
        };
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    strip(&mut headers);
    if !head && (chunked || !headers.contains_key(header::CONTENT_LENGTH)) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One request to moto on a connection of its own; the whole response.
async fn exchange(
    upstream: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, HeaderMap, Bytes), BoxError> {
    let attempt = async {
        let stream = TcpStream::connect(upstream).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, BoxError>((parts.status, parts.headers, body))
    };
    tokio::time::timeout(UPSTREAM_TIMEOUT, attempt)
        .await
        .map_err(|_| format!("no answer within {UPSTREAM_TIMEOUT:?}"))?
}

fn strip(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Inflates a gzip request body (the SDK's request compression), through the one
/// decompression path of the project.
fn inflate(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    trailwatch::decode::decompress(body, MAX_BODY)
        .map_err(|e| e.to_string())?
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn cbor_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = translate::json_to_response_body(
        &json!({"__type": error_type, "message": message}),
        &Schema::GENERIC,
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, APPLICATION_CBOR);
    headers.insert(SMITHY_PROTOCOL, RPC_V2_CBOR);
    response
}

pub(crate) fn text_response(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_paths() {
        assert_eq!(
            rpc_target("/service/GraniteServiceVersion20100801/operation/PutMetricData"),
            Some((
                "GraniteServiceVersion20100801".to_owned(),
                "PutMetricData".to_owned()
            ))
        );
        assert_eq!(rpc_target("/"), None);
        assert_eq!(rpc_target("/service/X/operation/"), None);
        assert_eq!(rpc_target("/service/X/operation/Y/extra"), None);
        assert_eq!(rpc_target("/bucket/service/X/operation/Y"), None);
    }
}

//! The borrowed view of a CloudTrail record: only the fields the detectors read.
//!
//! Strings borrow from the record's bytes, which simd-json unescapes in place, so a view
//! allocates nothing. A field of the wrong type reads as absent: every field after
//! `eventSource` can be chosen by the caller, so nothing here trusts a shape.

use std::net::IpAddr;

use simd_json::prelude::*;
use simd_json::tape::Value;

use crate::finding::{MAX_FIELD_CHARS, clean};

mod skim;

use skim::mend_lone_surrogates;
pub use skim::{Scratch, Short, skim, skim_prefix};

/// The fields of one CloudTrail record that trailwatch uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// `eventVersion`, e.g. `1.09`.
    pub event_version: Option<&'a str>,
    /// `eventTime`, or Logstash's `@timestamp` when a shipper dropped `eventTime`.
    pub event_time: Option<&'a str>,
    /// `@timestamp`, as Logstash writes it.
    pub logstash_time: Option<&'a str>,
    /// `eventSource`, e.g. `sts.amazonaws.com`.
    pub event_source: Option<&'a str>,
    /// `eventName`, e.g. `AssumeRoleWithWebIdentity`.
    pub event_name: Option<&'a str>,
    /// `eventType`, e.g. `AwsApiCall` or `AwsCloudTrailInsight`.
    pub event_type: Option<&'a str>,
    /// `eventID`.
    pub event_id: Option<&'a str>,
    /// `awsRegion`.
    pub region: Option<&'a str>,
    /// `sourceIPAddress`: an IP, a service name or `AWS Internal`.
    pub source_ip: Option<&'a str>,
    /// `sourceIPAddress` read as an address, when it is one (parsed once, for every
    /// detector).
    pub source_addr: Option<IpAddr>,
    /// `userAgent`.
    pub user_agent: Option<&'a str>,
    /// `errorCode`; absent on success.
    pub error_code: Option<&'a str>,
    /// `errorMessage`.
    pub error_message: Option<&'a str>,
    /// `recipientAccountId`.
    pub recipient_account: Option<&'a str>,
    /// `vpcEndpointId`: set when the call came through a VPC endpoint.
    pub vpc_endpoint_id: Option<&'a str>,
    /// `userIdentity`.
    pub identity: Identity<'a>,
    /// The `requestParameters` fields the detectors read.
    pub request: Request<'a>,
    /// The `responseElements` fields the detectors read.
    pub response: Response<'a>,
}

/// `userIdentity` and its `sessionContext`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Identity<'a> {
    /// `type`: `AssumedRole`, `IAMUser`, `WebIdentityUser`, `AWSService`, …
    pub kind: Option<&'a str>,
    /// `principalId`.
    pub principal_id: Option<&'a str>,
    /// `arn`.
    pub arn: Option<&'a str>,
    /// `accountId`.
    pub account: Option<&'a str>,
    /// `accessKeyId` the call was signed with (`AKIA…` long-term, `ASIA…` temporary).
    pub access_key_id: Option<&'a str>,
    /// `userName`; for web identity users the token subject.
    pub user_name: Option<&'a str>,
    /// `identityProvider`: the OIDC provider ARN for web identity users.
    pub identity_provider: Option<&'a str>,
    /// `invokedBy`: the service that made the call.
    pub invoked_by: Option<&'a str>,
    /// `sessionContext.sessionIssuer.arn`: the role behind an assumed-role session.
    pub issuer_arn: Option<&'a str>,
    /// `sessionContext.ec2RoleDelivery`: `1.0` (IMDSv1) or `2.0` (IMDSv2).
    pub ec2_role_delivery: Option<&'a str>,
}

/// The `requestParameters` fields the detectors read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// `roleArn` (AssumeRole*).
    pub role_arn: Option<&'a str>,
    /// `roleSessionName`.
    pub role_session_name: Option<&'a str>,
    /// `roleName` (IAM role changes).
    pub role_name: Option<&'a str>,
    /// `policyArn` (AttachRolePolicy).
    pub policy_arn: Option<&'a str>,
    /// `policyName` (PutRolePolicy).
    pub policy_name: Option<&'a str>,
    /// `userName` (CreateAccessKey).
    pub user_name: Option<&'a str>,
    /// `clusterName` (eks, eks-auth).
    pub cluster_name: Option<&'a str>,
    /// `namespace` (Pod Identity associations).
    pub namespace: Option<&'a str>,
    /// `serviceAccount` (Pod Identity associations).
    pub service_account: Option<&'a str>,
    /// `associationId` (Pod Identity associations).
    pub association_id: Option<&'a str>,
    /// `durationSeconds` (AssumeRole*).
    pub duration_seconds: Option<u64>,
    /// `url` (CreateOpenIDConnectProvider).
    pub url: Option<&'a str>,
    /// `openIDConnectProviderArn`.
    pub oidc_provider_arn: Option<&'a str>,
    /// Session tags EKS Pod Identity sets on its `sts:AssumeRole`.
    pub pod_tags: PodTags<'a>,
}

/// The session tags EKS Pod Identity attaches (`requestParameters.tags`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PodTags<'a> {
    /// `eks-cluster-name`.
    pub cluster: Option<&'a str>,
    /// `eks-cluster-arn`: where the cluster runs.
    pub cluster_arn: Option<&'a str>,
    /// `kubernetes-namespace`.
    pub namespace: Option<&'a str>,
    /// `kubernetes-service-account`.
    pub service_account: Option<&'a str>,
    /// `kubernetes-pod-name`.
    pub pod: Option<&'a str>,
}

/// The `responseElements` fields the detectors read. Credential material other than the
/// key id is never read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// `credentials.accessKeyId` handed out by an STS exchange.
    pub issued_key_id: Option<&'a str>,
    /// `credentials.expiration`, as CloudTrail writes it (`Mar 19, 2025, 1:30:20 AM`).
    pub expiration: Option<&'a str>,
    /// `assumedRoleUser.arn`.
    pub assumed_role_arn: Option<&'a str>,
    /// `subjectFromWebIdentityToken` (AssumeRoleWithWebIdentity).
    pub token_subject: Option<&'a str>,
}

/// Why a piece of input is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes are not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Valid JSON, but not an object.
    #[error("record is not a JSON object")]
    NotObject,
    /// An object that is no CloudTrail record or known envelope.
    #[error("object is neither a CloudTrail record nor a known envelope")]
    Unrecognised,
    /// A notification about log files or objects, not a log: what it is.
    #[error("{0}, not a CloudTrail log: replay the log files it names")]
    Notification(String),
    /// Longer than `max_record_bytes`.
    #[error("record longer than max_record_bytes; skipped")]
    Oversized,
    /// A CloudWatch Logs `awslogs.data` that is not base64 of gzip.
    #[error("bad awslogs data: {0}")]
    AwsLogs(String),
}

impl<'a> RecordView<'a> {
    /// Reads the view out of a parsed record; `None` when the value is not an object.
    pub fn from_value(value: Value<'_, 'a>) -> Option<Self> {
        let object = value.as_object()?;
        let mut view = Self::default();
        for (key, v) in object.iter() {
            match key {
                "userIdentity" => view.identity = Identity::from_value(v),
                "requestParameters" => view.request = Request::from_value(v),
                "responseElements" => view.response = Response::from_value(v),
                "@timestamp" => view.logstash_time = v.into_string(),
                _ => {
                    if let Some(slot) = view.slot(key.as_bytes()) {
                        *slot = v.into_string();
                    }
                }
            }
        }
        view.finish();
        Some(view)
    }

    /// What both readers derive once the fields are read.
    fn finish(&mut self) {
        self.event_time = self.event_time.or(self.logstash_time);
        self.source_addr = self.source_ip.and_then(|ip| ip.parse().ok());
    }

    /// The string field stored under the top-level `key`.
    #[inline(always)]
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<&'a str>> {
        Some(match key {
            b"eventVersion" => &mut self.event_version,
            b"eventTime" => &mut self.event_time,
            b"eventSource" => &mut self.event_source,
            b"eventName" => &mut self.event_name,
            b"eventType" => &mut self.event_type,
            b"eventID" => &mut self.event_id,
            b"awsRegion" => &mut self.region,
            b"sourceIPAddress" => &mut self.source_ip,
            b"userAgent" => &mut self.user_agent,
            b"errorCode" => &mut self.error_code,
            b"errorMessage" => &mut self.error_message,
            b"recipientAccountId" => &mut self.recipient_account,
            b"vpcEndpointId" => &mut self.vpc_endpoint_id,
            _ => return None,
        })
    }

    /// Whether this looks like a CloudTrail record at all.
    pub fn is_record(&self) -> bool {
        self.event_name.is_some() && (self.event_source.is_some() || self.event_id.is_some())
    }

    /// What the event is known by: its `eventID`, or for a record without one
    /// (CloudTrail's all have one: a hand-made or converted file), `~` and the SHA-256 of
    /// what says which call it was (time, caller, call, address, client, outcome, place).
    /// The same record processed again is the same event, and two such records alike in
    /// all of that are one event.
    pub fn event_key(&self) -> std::borrow::Cow<'a, str> {
        if let Some(id) = self.event_id {
            return id.into();
        }
        let said = (
            self.event_time,
            self.identity.arn,
            self.identity.principal_id,
            self.event_source,
            self.event_name,
            self.source_ip,
            self.user_agent,
            self.error_code,
            self.region,
            self.recipient_account,
        );
        format!(
            "~{}",
            crate::alert::digest(&serde_json::to_vec(&said).unwrap_or_default())
        )
        .into()
    }

    /// The account the event belongs to.
    pub fn account(&self) -> Option<&'a str> {
        self.recipient_account.or(self.identity.account)
    }

    /// `eventTime` as seconds since the epoch.
    pub fn epoch(&self) -> Option<i64> {
        parse_time(self.event_time?)
    }

    /// The IAM action, e.g. `s3:GetObject` for `s3.amazonaws.com` / `GetObject`.
    pub fn action(&self) -> Option<(&'a str, &'a str)> {
        let service = self.event_source?;
        let service = service.strip_suffix(".amazonaws.com").unwrap_or(service);
        // CloudWatch's API is served as `monitoring`; IAM actions say `cloudwatch`.
        let service = if service == "monitoring" {
            "cloudwatch"
        } else {
            service
        };
        Some((service, self.event_name?))
    }
}

/// The string field stored under `key` of an object the view reads; the same table
/// serves the tape and the skim.
trait Slots<'a> {
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<&'a str>>;
}

/// Within an object, the last duplicate key wins (as in serde_json and `JSON.parse`).
fn last<'a, 't>(object: &simd_json::tape::Object<'t, 'a>, key: &str) -> Option<Value<'t, 'a>> {
    object.iter().filter(|(k, _)| *k == key).map(|(_, v)| v).last()
}

impl<'a> Slots<'a> for Identity<'a> {
    #[inline(always)]
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<&'a str>> {
        Some(match key {
            b"type" => &mut self.kind,
            b"principalId" => &mut self.principal_id,
            b"arn" => &mut self.arn,
            b"accountId" => &mut self.account,
            b"accessKeyId" => &mut self.access_key_id,
            b"userName" => &mut self.user_name,
            b"identityProvider" => &mut self.identity_provider,
            b"invokedBy" => &mut self.invoked_by,
            _ => return None,
        })
    }
}

impl<'a> Identity<'a> {
    fn from_value(value: Value<'_, 'a>) -> Self {
        let mut id = Self::default();
        let Some(object) = value.as_object() else {
            return id;
        };
        for (key, v) in object.iter() {
            if key == "sessionContext" {
                (id.ec2_role_delivery, id.issuer_arn) = (None, None);
                let Some(context) = v.as_object() else { continue };
                id.ec2_role_delivery = last(&context, "ec2RoleDelivery").and_then(|d| d.into_string());
                id.issuer_arn = last(&context, "sessionIssuer")
                    .and_then(|issuer| last(&issuer.as_object()?, "arn"))
                    .and_then(|arn| arn.into_string());
            } else if let Some(slot) = id.slot(key.as_bytes()) {
                *slot = v.into_string();
            }
        }
        id
    }
}

impl<'a> Slots<'a> for Request<'a> {
    #[inline(always)]
    fn slot(&mut self, key: &[u8]) -> Option<&mut Option<&'a str>> {
        Some(match key {
            b"roleArn" => &mut self.role_arn,
            b"roleSessionName" => &mut self.role_session_name,
            b"roleName" => &mut self.role_name,
            b"policyArn" => &mut self.policy_arn,
            b"policyName" => &mut self.policy_name,
            b"userName" => &mut self.user_name,
            b"clusterName" => &mut self.cluster_name,
            b"namespace" => &mut self.namespace,
            b"serviceAccount" => &mut self.service_account,
            b"associationId" => &mut self.association_id,
            b"url" => &mut self.url,
            b"openIDConnectProviderArn" => &mut self.oidc_provider_arn,
            _ => return None,
        })
    }
}

impl<'a> Request<'a> {
    fn from_value(value: Value<'_, 'a>) -> Self {
        let mut request = Self::default();
        let Some(object) = value.as_object() else {
            return request;
        };
        // requestParameters can be large (policies, batch item lists): only top-level keys
        // are looked at, and nested values are skipped over by the tape in O(1).
        for (key, v) in object.iter() {
            match key {
                "durationSeconds" => request.duration_seconds = v.as_u64(),
                "tags" => request.pod_tags = PodTags::from_value(v),
                _ => {
                    if let Some(slot) = request.slot(key.as_bytes()) {
                        *slot = v.into_string();
                    }
                }
            }
        }
        request
    }
}

impl<'a> PodTags<'a> {
    /// The account and region of `eks-cluster-arn`
    /// (`arn:<partition>:eks:<region>:<account>:cluster/<name>`), each when it says.
    pub fn cluster_place(&self) -> (Option<&'a str>, Option<&'a str>) {
        let mut parts = self.cluster_arn.map(|a| a.splitn(6, ':')).into_iter().flatten();
        let (region, account) = (parts.nth(3), parts.next());
        let said = |s: Option<&'a str>| s.filter(|s| !s.is_empty());
        (said(account), said(region))
    }

    /// Records one `{"key": …, "value": …}` tag.
    fn set(&mut self, key: Option<&str>, value: Option<&'a str>) {
        let slot = match key {
            Some("eks-cluster-name") => &mut self.cluster,
            Some("eks-cluster-arn") => &mut self.cluster_arn,
            Some("kubernetes-namespace") => &mut self.namespace,
            Some("kubernetes-service-account") => &mut self.service_account,
            Some("kubernetes-pod-name") => &mut self.pod,
            _ => return,
        };
        *slot = value;
    }

    fn from_value(value: Value<'_, 'a>) -> Self {
        let mut tags = Self::default();
        let Some(array) = value.as_array() else {
            return tags;
        };
        for tag in array.iter() {
            let Some(tag) = tag.as_object() else { continue };
            let key = last(&tag, "key").and_then(|k| k.into_string());
            tags.set(key, last(&tag, "value").and_then(|v| v.into_string()));
        }
        tags
    }
}

impl<'a> Response<'a> {
    fn from_value(value: Value<'_, 'a>) -> Self {
        let mut response = Self::default();
        let Some(object) = value.as_object() else {
            return response;
        };
        for (key, v) in object.iter() {
            match key {
                "credentials" => {
                    (response.issued_key_id, response.expiration) = (None, None);
                    let Some(credentials) = v.as_object() else {
                        continue;
                    };
                    response.issued_key_id = last(&credentials, "accessKeyId").and_then(|k| k.into_string());
                    response.expiration = last(&credentials, "expiration").and_then(|k| k.into_string());
                }
                "assumedRoleUser" => {
                    response.assumed_role_arn = v
                        .as_object()
                        .and_then(|u| last(&u, "arn"))
                        .and_then(|a| a.into_string());
                }
                "subjectFromWebIdentityToken" => response.token_subject = v.into_string(),
                _ => {}
            }
        }
        response
    }
}

/// Reusable parser state: simd-json's scratch buffers and tape, kept across records so
/// parsing allocates nothing once warmed up.
pub struct Parser {
    buffers: simd_json::Buffers,
    tape: Option<simd_json::tape::Tape<'static>>,
}

impl Default for Parser {
    fn default() -> Self {
        Self {
            buffers: simd_json::Buffers::default(),
            tape: Some(simd_json::tape::Tape::null().reset()),
        }
    }
}

impl Parser {
    /// Parses `bytes` (unescaped in place) and hands the tape's root value to `f`.
    pub fn parse<T>(
        &mut self,
        bytes: &mut [u8],
        f: impl for<'t, 'a> FnOnce(Value<'t, 'a>) -> T,
    ) -> Result<T, RecordError> {
        mend_lone_surrogates(bytes);
        let mut tape = self
            .tape
            .take()
            .unwrap_or_else(|| simd_json::tape::Tape::null().reset())
            .reset();
        let result = simd_json::fill_tape(bytes, &mut self.buffers, &mut tape)
            // simd-json quotes the offending input character, which can be an escape or a
            // control character: escape it before the message reaches a log line.
            .map_err(|e| RecordError::Json(clean(&e.to_string(), MAX_FIELD_CHARS)))
            .map(|()| f(tape.as_value()));
        self.tape = Some(tape.reset());
        result
    }
}

/// Parses a CloudTrail time stamp (`2026-11-30T10:00:00Z`, fractions allowed) into
/// seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Parses `credentials.expiration`: CloudTrail writes `Mar 19, 2025, 1:30:20 AM` (UTC);
/// RFC 3339 is accepted too.
pub fn parse_expiration(s: &str) -> Option<i64> {
    parse_time(s).or_else(|| {
        jiff::civil::DateTime::strptime("%b %d, %Y, %I:%M:%S %p", s)
            .ok()
            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp().as_second())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_read_as_the_replacement_character() {
        let cases = [
            (r#"{"a":"x\ud800y"}"#, "x\u{FFFD}y"),
            (r#"{"a":"x\udc00"}"#, "x\u{FFFD}"),
            (r#"{"a":"\ud83d\ude00\ud800\\ud800"}"#, "\u{1F600}\u{FFFD}\\ud800"),
            (r#"{"a":"\ud800\u0041"}"#, "\u{FFFD}A"),
        ];
        for (json, want) in cases {
            let mut bytes = json.as_bytes().to_vec();
            let got = Parser::default()
                .parse(&mut bytes, |v| {
                    v.as_object()
                        .and_then(|o| o.get("a"))
                        .and_then(|a| a.into_string())
                        .map(str::to_string)
                })
                .unwrap();
            assert_eq!(got.as_deref(), Some(want), "{json}");
        }
        // Cut short inside an escape: an error, not a panic.
        for json in [r#"{"a":"\"#, r#"{"a":"\ud8"#, r#"{"a":"\ud800\"#] {
            let mut bytes = json.as_bytes().to_vec();
            assert!(Parser::default().parse(&mut bytes, |_| ()).is_err(), "{json}");
        }
    }

    #[test]
    fn times() {
        let cases = [
            ("2026-11-30T10:00:00Z", Some(1_796_032_800)),
            ("2020-09-14T00:44:23.000Z", Some(1_600_044_263)),
            ("yesterday", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s), want, "{s}");
        }
        let cases = [
            ("Mar 19, 2025, 1:30:20 AM", Some(1_742_347_820)),
            ("Mar 19, 2025, 1:30:20 PM", Some(1_742_391_020)),
            ("2026-11-30T10:00:00Z", Some(1_796_032_800)),
            ("soon", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_expiration(s), want, "{s}");
        }
    }
}

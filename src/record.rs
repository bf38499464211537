//! The borrowed view of a CloudTrail record: only the fields the detectors read.
//!
//! Strings borrow from the record's bytes, which simd-json unescapes in place, so a view
//! allocates nothing. A field of the wrong type reads as absent: every field after
//! `eventSource` can be chosen by the caller, so nothing here trusts a shape.

use simd_json::prelude::*;
use simd_json::tape::Value;

use crate::finding::{MAX_FIELD_CHARS, clean};

/// The fields of one CloudTrail record that trailwatch uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// `eventVersion`, e.g. `1.09`.
    pub event_version: Option<&'a str>,
    /// `eventTime`, or Logstash's `@timestamp` when a shipper dropped `eventTime`.
    pub event_time: Option<&'a str>,
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
                "eventVersion" => view.event_version = v.into_string(),
                "eventTime" => view.event_time = v.into_string(),
                "@timestamp" => view.event_time = view.event_time.or(v.into_string()),
                "eventSource" => view.event_source = v.into_string(),
                "eventName" => view.event_name = v.into_string(),
                "eventType" => view.event_type = v.into_string(),
                "eventID" => view.event_id = v.into_string(),
                "awsRegion" => view.region = v.into_string(),
                "sourceIPAddress" => view.source_ip = v.into_string(),
                "userAgent" => view.user_agent = v.into_string(),
                "errorCode" => view.error_code = v.into_string(),
                "errorMessage" => view.error_message = v.into_string(),
                "recipientAccountId" => view.recipient_account = v.into_string(),
                "vpcEndpointId" => view.vpc_endpoint_id = v.into_string(),
                "userIdentity" => view.identity = Identity::from_value(v),
                "requestParameters" => view.request = Request::from_value(v),
                "responseElements" => view.response = Response::from_value(v),
                _ => {}
            }
        }
        Some(view)
    }

    /// Whether this looks like a CloudTrail record at all.
    pub fn is_record(&self) -> bool {
        self.event_name.is_some() && (self.event_source.is_some() || self.event_id.is_some())
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

impl<'a> Identity<'a> {
    fn from_value(value: Value<'_, 'a>) -> Self {
        let mut id = Self::default();
        let Some(object) = value.as_object() else {
            return id;
        };
        for (key, v) in object.iter() {
            match key {
                "type" => id.kind = v.into_string(),
                "principalId" => id.principal_id = v.into_string(),
                "arn" => id.arn = v.into_string(),
                "accountId" => id.account = v.into_string(),
                "accessKeyId" => id.access_key_id = v.into_string(),
                "userName" => id.user_name = v.into_string(),
                "identityProvider" => id.identity_provider = v.into_string(),
                "invokedBy" => id.invoked_by = v.into_string(),
                "sessionContext" => {
                    let Some(context) = v.as_object() else { continue };
                    id.ec2_role_delivery = context.get("ec2RoleDelivery").and_then(|d| d.into_string());
                    id.issuer_arn = context
                        .get("sessionIssuer")
                        .and_then(|issuer| issuer.as_object())
                        .and_then(|issuer| issuer.get("arn"))
                        .and_then(|arn| arn.into_string());
                }
                _ => {}
            }
        }
        id
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
                "roleArn" => request.role_arn = v.into_string(),
                "roleSessionName" => request.role_session_name = v.into_string(),
                "roleName" => request.role_name = v.into_string(),
                "policyArn" => request.policy_arn = v.into_string(),
                "policyName" => request.policy_name = v.into_string(),
                "userName" => request.user_name = v.into_string(),
                "clusterName" => request.cluster_name = v.into_string(),
                "namespace" => request.namespace = v.into_string(),
                "serviceAccount" => request.service_account = v.into_string(),
                "associationId" => request.association_id = v.into_string(),
                "url" => request.url = v.into_string(),
                "durationSeconds" => request.duration_seconds = v.as_u64(),
                "openIDConnectProviderArn" => request.oidc_provider_arn = v.into_string(),
                "tags" => request.pod_tags = PodTags::from_value(v),
                _ => {}
            }
        }
        request
    }
}

impl<'a> PodTags<'a> {
    fn from_value(value: Value<'_, 'a>) -> Self {
        let mut tags = Self::default();
        let Some(array) = value.as_array() else {
            return tags;
        };
        for tag in array.iter() {
            let Some(tag) = tag.as_object() else { continue };
            let key = tag.get("key").and_then(|k| k.into_string());
            let value = tag.get("value").and_then(|v| v.into_string());
            match key {
                Some("eks-cluster-name") => tags.cluster = value,
                Some("kubernetes-namespace") => tags.namespace = value,
                Some("kubernetes-service-account") => tags.service_account = value,
                Some("kubernetes-pod-name") => tags.pod = value,
                _ => {}
            }
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
                    let Some(credentials) = v.as_object() else {
                        continue;
                    };
                    response.issued_key_id = credentials.get("accessKeyId").and_then(|k| k.into_string());
                    response.expiration = credentials.get("expiration").and_then(|k| k.into_string());
                }
                "assumedRoleUser" => {
                    response.assumed_role_arn = v
                        .as_object()
                        .and_then(|u| u.get("arn"))
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

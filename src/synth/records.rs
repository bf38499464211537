//! Record builders: one CloudTrail record per call, keys in the order CloudTrail writes
//! them (`eventVersion`, `userIdentity`, `eventTime` … `tlsDetails`).

use fastrand::Rng;

use super::json::{Out, hex_id, random_chars};
use super::world::{ACCOUNT, KMS_KEY_ARN, REGION, Role, Session};

/// Host names clients send (`tlsDetails.clientProvidedHostHeader`).
pub(super) mod host {
    pub const STS: &str = "sts.ap-southeast-1.amazonaws.com";
    pub const DYNAMODB: &str = "dynamodb.ap-southeast-1.amazonaws.com";
    pub const SQS: &str = "sqs.ap-southeast-1.amazonaws.com";
    pub const KMS: &str = "kms.ap-southeast-1.amazonaws.com";
    pub const SECRETS: &str = "secretsmanager.ap-southeast-1.amazonaws.com";
    pub const MONITORING: &str = "monitoring.ap-southeast-1.amazonaws.com";
    pub const TAGGING: &str = "tagging.ap-southeast-1.amazonaws.com";
    pub const EC2: &str = "ec2.ap-southeast-1.amazonaws.com";
    pub const ELB: &str = "elasticloadbalancing.ap-southeast-1.amazonaws.com";
    pub const ECR_API: &str = "api.ecr.ap-southeast-1.amazonaws.com";
    pub const ECR_DKR: &str = super::super::world::ECR_REGISTRY;
    pub const LOGS: &str = "logs.ap-southeast-1.amazonaws.com";
    pub const SSM: &str = "ssm.ap-southeast-1.amazonaws.com";
    pub const EC2MESSAGES: &str = "ec2messages.ap-southeast-1.amazonaws.com";
    pub const EKS: &str = "eks.ap-southeast-1.amazonaws.com";
    pub const EKS_AUTH: &str = "eks-auth.ap-southeast-1.api.aws";
    pub const AUTOSCALING: &str = "autoscaling.ap-southeast-1.amazonaws.com";
    pub const IAM: &str = "iam.amazonaws.com";
    pub const ROUTE53: &str = "route53.amazonaws.com";
    pub const CLOUDFORMATION: &str = "cloudformation.ap-southeast-1.amazonaws.com";
    pub const S3_REGIONAL: &str = "s3.ap-southeast-1.amazonaws.com";
}

/// Who made the call, as `userIdentity`.
#[derive(Clone, Copy)]
pub(super) enum Who<'a> {
    /// A session's or user's identity.
    Session(&'a Session),
    /// A session's identity, used by an AWS service on its behalf (`invokedBy`).
    InvokedBy(&'a Session, &'static str),
    /// `{"type":"AWSService","invokedBy":…}`.
    Service(&'static str),
    /// The holder of a web identity token (AssumeRoleWithWebIdentity).
    Web {
        /// The OIDC provider ARN, or the bare issuer when no provider matched.
        provider: &'a str,
        subject: &'a str,
        /// Whether `identityProvider` is written (absent when no provider matched).
        with_provider: bool,
    },
}

/// Where a call came from.
#[derive(Clone, Copy)]
pub(super) struct Caller<'a> {
    pub who: Who<'a>,
    pub ip: &'a str,
    /// JSON string content.
    pub ua: &'a str,
    pub vpce: Option<&'a str>,
}

/// The request id's format.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ReqId {
    Uuid,
    S3,
    Dynamo,
}

/// `tlsDetails`.
#[derive(Clone, Copy)]
pub(super) enum Tls<'a> {
    Absent,
    V13(&'a str),
    /// TLS 1.2 (older clients).
    V12(&'a str),
    /// A virtual-hosted S3 bucket.
    Bucket(&'a str),
}

/// `resources`.
#[derive(Clone, Copy)]
pub(super) enum Res<'a> {
    Absent,
    /// One resource of the account: type, and the ARN as a prefix and a name.
    Arn(&'static str, &'static str, &'a str),
    Role(&'a Role),
    /// An S3 object (bucket, key as JSON string content) and its bucket.
    Object(&'a str, &'a str),
    Bucket(&'a str),
}

/// The fields after `responseElements`/`additionalEventData`.
#[derive(Clone, Copy)]
pub(super) struct Tail<'a> {
    pub id: ReqId,
    pub read_only: bool,
    pub resources: Res<'a>,
    /// A data event (`managementEvent: false`, `eventCategory: Data`).
    pub data: bool,
    pub shared: bool,
    pub vpce: Option<&'a str>,
    pub tls: Tls<'a>,
}

impl<'a> Tail<'a> {
    pub(super) fn new(read_only: bool, host: &'a str) -> Self {
        Self {
            id: ReqId::Uuid,
            read_only,
            resources: Res::Absent,
            data: false,
            shared: false,
            vpce: None,
            tls: Tls::V13(host),
        }
    }

    /// A call made by an AWS service for someone (no TLS details).
    pub(super) fn service(read_only: bool) -> Self {
        Self {
            tls: Tls::Absent,
            ..Self::new(read_only, "")
        }
    }

    pub(super) fn shared(self) -> Self {
        Self { shared: true, ..self }
    }

    pub(super) fn id(self, id: ReqId) -> Self {
        Self { id, ..self }
    }

    pub(super) fn tls(self, tls: Tls<'a>) -> Self {
        Self { tls, ..self }
    }

    pub(super) fn res(self, resources: Res<'a>) -> Self {
        Self { resources, ..self }
    }

    pub(super) fn via(self, vpce: Option<&'a str>) -> Self {
        Self { vpce, ..self }
    }

    pub(super) fn data(self) -> Self {
        Self { data: true, ..self }
    }
}

/// Writes records into the step's buffer.
pub(super) struct Rec<'a> {
    pub o: &'a mut Out,
    pub rng: &'a mut Rng,
    /// Event time (epoch seconds).
    pub now: i64,
    /// Minor of the record's `eventVersion` (`vpcEndpointAccountId` is 1.09+).
    minor: u8,
}

impl<'a> Rec<'a> {
    pub(super) fn new(o: &'a mut Out, rng: &'a mut Rng, now: i64) -> Self {
        Self {
            o,
            rng,
            now,
            minor: 8,
        }
    }

    /// From `eventVersion` to `errorMessage`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn head(
        &mut self,
        ver: &'static str,
        from: &Caller<'_>,
        source: &'static str,
        name: &str,
        region: &str,
        err: Option<(&str, &str)>,
    ) {
        self.minor = ver.rsplit('.').next().and_then(|m| m.parse().ok()).unwrap_or(8);
        let o = &mut *self.o;
        o.open();
        o.lit("eventVersion", ver);
        match from.who {
            Who::Session(s) => o.raw("userIdentity", &s.identity),
            Who::InvokedBy(s, by) => {
                o.raw("userIdentity", &s.identity);
                // Reopen the object to add `invokedBy` after `sessionContext`.
                o.buf.truncate(o.buf.len() - 2);
                o.buf.extend_from_slice(b",\"invokedBy\":\"");
                o.part(by);
                o.buf.extend_from_slice(b"\"},");
            }
            Who::Service(by) => {
                o.obj("userIdentity");
                o.lit("type", "AWSService");
                o.lit("invokedBy", by);
                o.end();
            }
            Who::Web {
                provider,
                subject,
                with_provider,
            } => {
                o.obj("userIdentity");
                o.lit("type", "WebIdentityUser");
                o.open_str("principalId");
                o.part(provider);
                o.part(":sts.amazonaws.com:");
                o.part(subject);
                o.close_str();
                o.lit("userName", subject);
                if with_provider {
                    o.lit("identityProvider", provider);
                }
                o.end();
            }
        }
        o.time("eventTime", self.now);
        o.lit("eventSource", source);
        o.lit("eventName", name);
        o.lit("awsRegion", region);
        o.lit("sourceIPAddress", from.ip);
        o.lit("userAgent", from.ua);
        if let Some((code, message)) = err {
            o.lit("errorCode", code);
            o.s("errorMessage", message);
        }
    }

    /// From `requestID` to the end of the record.
    pub(super) fn tail(&mut self, t: Tail<'_>) {
        let o = &mut *self.o;
        match t.id {
            ReqId::Uuid => o.uuid("requestID", self.rng),
            ReqId::S3 => o.s3_request_id("requestID", self.rng),
            ReqId::Dynamo => o.dynamodb_request_id("requestID", self.rng),
        }
        o.uuid("eventID", self.rng);
        o.b("readOnly", t.read_only);
        match t.resources {
            Res::Absent => {}
            Res::Arn(kind, prefix, name) => {
                o.arr("resources");
                o.open();
                o.lit("accountId", ACCOUNT);
                o.lit("type", kind);
                o.open_str("ARN");
                o.part(prefix);
                o.part(name);
                o.close_str();
                o.end();
                o.end_arr();
            }
            Res::Role(role) => {
                o.arr("resources");
                o.open();
                o.lit("accountId", role.account);
                o.lit("type", "AWS::IAM::Role");
                o.lit("ARN", &role.arn);
                o.end();
                o.end_arr();
            }
            Res::Object(bucket, key) => {
                o.arr("resources");
                o.open();
                o.lit("type", "AWS::S3::Object");
                o.open_str("ARN");
                o.part("arn:aws:s3:::");
                o.part(bucket);
                o.part("/");
                o.part(key);
                o.close_str();
                o.end();
                bucket_resource(o, bucket);
                o.end_arr();
            }
            Res::Bucket(bucket) => {
                o.arr("resources");
                bucket_resource(o, bucket);
                o.end_arr();
            }
        }
        o.lit("eventType", "AwsApiCall");
        o.b("managementEvent", !t.data);
        o.lit("recipientAccountId", ACCOUNT);
        if t.shared {
            o.uuid("sharedEventID", self.rng);
        }
        if let Some(vpce) = t.vpce {
            o.lit("vpcEndpointId", vpce);
            if self.minor >= 9 {
                o.lit("vpcEndpointAccountId", ACCOUNT);
            }
        }
        o.lit("eventCategory", if t.data { "Data" } else { "Management" });
        let (version, suite) = match t.tls {
            Tls::V12(_) => ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
            _ => ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
        };
        match t.tls {
            Tls::Absent => {}
            Tls::V13(host) | Tls::V12(host) => {
                o.obj("tlsDetails");
                o.lit("tlsVersion", version);
                o.lit("cipherSuite", suite);
                o.lit("clientProvidedHostHeader", host);
                o.end();
            }
            Tls::Bucket(bucket) => {
                o.obj("tlsDetails");
                o.lit("tlsVersion", version);
                o.lit("cipherSuite", suite);
                o.open_str("clientProvidedHostHeader");
                o.part(bucket);
                o.part(".s3.ap-southeast-1.amazonaws.com");
                o.close_str();
                o.end();
            }
        }
        o.record_done();
    }

    /// `"credentials":{…},` for a session an exchange hands out.
    pub(super) fn credentials(&mut self, s: &Session) {
        let o = &mut *self.o;
        o.obj("credentials");
        o.lit("accessKeyId", &s.key);
        o.open_str("sessionToken");
        o.part("IQoJb3JpZ2luX2VjE");
        random_chars(&mut o.buf, self.rng, B64_TOKEN, 620);
        o.close_str();
        o.human_time("expiration", s.expires);
        o.end();
    }
}

const B64_TOKEN: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn bucket_resource(o: &mut Out, bucket: &str) {
    o.open();
    o.lit("accountId", ACCOUNT);
    o.lit("type", "AWS::S3::Bucket");
    o.open_str("ARN");
    o.part("arn:aws:s3:::");
    o.part(bucket);
    o.close_str();
    o.end();
}

/// Global services log in us-east-1.
pub(super) fn region_of(source: &str) -> &'static str {
    match source {
        "iam.amazonaws.com" | "route53.amazonaws.com" => super::world::GLOBAL_REGION,
        _ => REGION,
    }
}

/// `"assumedRoleUser":{…},`
pub(super) fn assumed_role_user(o: &mut Out, role: &Role, session: &Session) {
    o.obj("assumedRoleUser");
    o.open_str("assumedRoleId");
    o.part(&role.pid);
    o.part(":");
    o.part(&session.name);
    o.close_str();
    o.lit("arn", &session.arn);
    o.end();
}

/// `additionalEventData` of an S3 data event.
pub(super) fn s3_extra(o: &mut Out, rng: &mut Rng, bytes_in: u64, bytes_out: u64, sse: bool) {
    o.obj("additionalEventData");
    o.lit("SignatureVersion", "SigV4");
    o.lit("CipherSuite", "TLS_AES_128_GCM_SHA256");
    o.n("bytesTransferredIn", bytes_in);
    if sse {
        o.lit("SSEApplied", "SSE_KMS");
    }
    o.lit("AuthenticationMethod", "AuthHeader");
    o.amz_id2("x-amz-id-2", rng);
    o.n("bytesTransferredOut", bytes_out);
    o.end();
}

/// An S3 object call's `requestParameters` (bucket, host, key).
pub(super) fn s3_params(o: &mut Out, bucket: &str, key: &str) {
    o.lit("bucketName", bucket);
    o.open_str("Host");
    o.part(bucket);
    o.part(".s3.ap-southeast-1.amazonaws.com");
    o.close_str();
    o.lit("key", key);
}

/// `x-amz-meta-*` and friends of a PutObject from a client that sets many headers:
/// several KB of request parameters.
pub(super) fn s3_many_headers(o: &mut Out, rng: &mut Rng, n: usize) {
    o.lit("Content-Type", "application/vnd.apache.parquet");
    o.lit("x-amz-server-side-encryption", "aws:kms");
    o.lit("x-amz-server-side-encryption-aws-kms-key-id", KMS_KEY_ARN);
    o.lit("x-amz-checksum-crc32c", "yZRlqg==");
    o.lit("x-amz-sdk-checksum-algorithm", "CRC32C");
    o.open_str("x-amz-tagging");
    o.part("pipeline=etl&dataset=events&owner=data-platform&retention=400d");
    o.close_str();
    for i in 0..n {
        o.open_str_indexed("x-amz-meta-column-", i as u64);
        o.part_hex(rng, 24);
        o.part(";type=");
        o.part(["int64", "string", "double", "timestamp[us]", "bool"][i % 5]);
        o.close_str();
    }
}

/// `"items":[{"instanceId":"i-…"},…]` of `n` random instances.
pub(super) fn instance_items(o: &mut Out, rng: &mut Rng, n: usize) {
    o.arr("items");
    for _ in 0..n {
        o.open();
        o.open_str("instanceId");
        o.part("i-0");
        o.part_hex(rng, 16);
        o.close_str();
        o.end();
    }
    o.end_arr();
}

/// A fresh ENI id.
pub(super) fn eni(rng: &mut Rng) -> String {
    hex_id(rng, "eni-0", 16)
}

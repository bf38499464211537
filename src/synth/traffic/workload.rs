//! Workload calls: the data plane of each pod, with its own credentials, and the KMS
//! calls S3 makes for SSE-KMS objects on its behalf.

use fastrand::Rng;

use crate::synth::calls::kms_context;
use crate::synth::json::{hex_id, iso_into, uuid};
use crate::synth::records::{Caller, Rec, Who};
use crate::synth::world::{Federation, KMS_KEY_ARN, NAT, NODES, Op, Session, SessionSpec};

use super::{Gen, chance, via};

impl Gen {
    pub(super) fn workload_op(&mut self, wi: usize, pi: usize, op: Op) {
        let now = self.now();
        let Self {
            o,
            rng,
            world,
            context,
            ..
        } = self;
        let mut r = Rec::new(o, rng, now);
        let w = &world.workloads[wi];
        let pod = &w.pods[pi];
        let Some(s) = pod.session.as_ref() else {
            return;
        };
        let ua = if r.rng.u32(..8) == 0 {
            w.def.alt_ua
        } else {
            w.def.ua
        };
        let vpce = &world.vpce;
        let ip = pod.ip.as_str();
        let nat = Caller {
            who: Who::Session(s),
            ip: NAT[world.nodes[pod.node].nat],
            ua,
            vpce: None,
        };
        // A small share of calls is denied (a policy that lags behind the code).
        let denied = chance(r.rng, 4);
        let message;
        let deny = |action: &str, resource: &str| {
            format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action",
                s.arn
            )
        };
        match op {
            Op::S3Get(bucket) | Op::S3Head(bucket) => {
                let key = s3_key(r.rng, bucket, now);
                let name = if matches!(op, Op::S3Head(_)) {
                    "HeadObject"
                } else {
                    "GetObject"
                };
                let err = if denied {
                    Some(("AccessDenied", "Access Denied"))
                } else if chance(r.rng, 15) {
                    Some(("NoSuchKey", "The specified key does not exist."))
                } else {
                    None
                };
                let size = r.rng.u64(200..2_000_000);
                r.s3_get(&via(s, ip, ua, &vpce.s3), name, bucket, &key, size, err);
            }
            Op::S3Put(bucket) => {
                let key = s3_key(r.rng, bucket, now);
                let headers = if bucket.contains("data-lake") && chance(r.rng, 300) {
                    r.rng.usize(40..300)
                } else {
                    0
                };
                let err = denied.then_some(("AccessDenied", "Access Denied"));
                let size = r.rng.u64(500..20_000_000);
                r.s3_put(&via(s, ip, ua, &vpce.s3), bucket, &key, size, headers, err);
            }
            Op::S3List(bucket) => {
                r.s3_list(&via(s, ip, ua, &vpce.s3), bucket, "raw/events/dt=2026-11-30/");
            }
            Op::DdbGet(t) | Op::DdbPut(t) | Op::DdbQuery(t) | Op::DdbUpdate(t) => {
                let name = match op {
                    Op::DdbGet(_) => "GetItem",
                    Op::DdbPut(_) => "PutItem",
                    Op::DdbQuery(_) => "Query",
                    _ => "UpdateItem",
                };
                let err = if denied {
                    message = deny(
                        &format!("dynamodb:{name}"),
                        &format!("arn:aws:dynamodb:ap-southeast-1:111122223333:table/{t}"),
                    );
                    Some(("AccessDenied", message.as_str()))
                } else if name == "PutItem" && chance(r.rng, 20) {
                    Some((
                        "ConditionalCheckFailedException",
                        "The conditional request failed",
                    ))
                } else if chance(r.rng, 2) {
                    Some((
                        "ProvisionedThroughputExceededException",
                        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                    ))
                } else {
                    None
                };
                r.ddb(&via(s, ip, ua, &vpce.dynamodb), name, t, err);
            }
            Op::DdbBatchWrite(t) => {
                let n = r.rng.usize(10..26);
                r.ddb_batch_write(&via(s, ip, ua, &vpce.dynamodb), t, n);
            }
            Op::SqsSend(q) | Op::SqsReceive(q) | Op::SqsDelete(q) => {
                let name = match op {
                    Op::SqsSend(_) => "SendMessage",
                    Op::SqsReceive(_) => "ReceiveMessage",
                    _ => "DeleteMessage",
                };
                let err = if denied {
                    message = deny(
                        &format!("sqs:{name}"),
                        &format!("arn:aws:sqs:ap-southeast-1:111122223333:{q}"),
                    );
                    Some(("AccessDenied", message.as_str()))
                } else {
                    None
                };
                let attrs = name == "SendMessage" && chance(r.rng, 100);
                r.sqs(&via(s, ip, ua, &vpce.sqs), name, q, attrs, err);
            }
            Op::SqsSendBatch(q) => r.sqs_send_batch(&via(s, ip, ua, &vpce.sqs), q, 10),
            Op::KmsDecrypt | Op::KmsGenerateDataKey => {
                let name = if matches!(op, Op::KmsDecrypt) {
                    "Decrypt"
                } else {
                    "GenerateDataKey"
                };
                kms_context(context, r.rng.usize(1..4), "", "");
                let err = if denied {
                    message = deny(&format!("kms:{name}"), KMS_KEY_ARN);
                    Some(("AccessDeniedException", message.as_str()))
                } else {
                    None
                };
                r.kms(&via(s, ip, ua, &vpce.kms), name, context, false, err);
            }
            Op::SecretGet(secret) => {
                let err = if denied {
                    message = deny(
                        "secretsmanager:GetSecretValue",
                        &format!("arn:aws:secretsmanager:ap-southeast-1:111122223333:secret:{secret}-a1B2c3"),
                    );
                    Some(("AccessDeniedException", message.as_str()))
                } else {
                    None
                };
                r.secret_get(&nat, secret, err);
            }
            Op::MetricData => r.metric_data(&nat),
            Op::TagResources => r.tag_resources(&nat),
            Op::DnsList => r.route53(&nat, false),
            Op::DnsChange => r.route53(&nat, true),
            Op::DescribeVolumes => r.ebs(&via(s, ip, ua, &vpce.ec2), None),
            Op::AttachVolume => {
                let node = &world.nodes[r.rng.usize(..NODES)];
                r.ebs(&via(s, ip, ua, &vpce.ec2), Some(&node.instance));
            }
            Op::TargetHealth => r.elb(&nat, 0),
            Op::RegisterTargets => {
                let n = r.rng.usize(50..400);
                r.elb(&nat, n);
            }
            Op::AssumeTrusted => {
                let issued = Session::assumed(
                    r.rng,
                    SessionSpec {
                        role: &world.trusted_role,
                        name: format!("{}-artifacts", w.def.sa),
                        created: now,
                        lifetime: 900,
                        federation: Federation::Empty,
                        mfa: false,
                        delivery: None,
                    },
                );
                r.assume_role(&via(s, ip, ua, &vpce.sts), &world.trusted_role, &issued, None);
            }
            Op::CallerIdentity => r.caller_identity(&via(s, ip, ua, &vpce.sts), None),
        }
    }

    /// KMS calls S3 makes for SSE-KMS objects, on the caller's behalf.
    pub(super) fn sse_kms(&mut self) {
        // The order service and the ETL workers read and write SSE-KMS buckets.
        let wi = if self.rng.bool() { 0 } else { 4 };
        let pi = self.rng.usize(..self.world.workloads[wi].pods.len());
        if self.ensure_credentials(wi, pi) {
            self.tick();
        }
        let now = self.now();
        let Self {
            o,
            rng,
            world,
            context,
            ..
        } = self;
        let mut r = Rec::new(o, rng, now);
        let w = &world.workloads[wi];
        let Some(s) = w.pods[pi].session.as_ref() else {
            return;
        };
        let bucket = if wi == 0 {
            "prod-order-artifacts-111122223333"
        } else {
            "prod-data-lake-111122223333"
        };
        let key = s3_key(r.rng, bucket, now);
        kms_context(context, 0, bucket, &key);
        let name = if chance(r.rng, 400) {
            "GenerateDataKey"
        } else {
            "Decrypt"
        };
        let c = Caller {
            who: Who::InvokedBy(s, "s3.amazonaws.com"),
            ip: "s3.amazonaws.com",
            ua: "s3.amazonaws.com",
            vpce: None,
        };
        r.kms(&c, name, context, true, None);
    }
}

/// An object key for `bucket`, as JSON string content; one in twenty has non-ASCII
/// characters, raw or as `\u` escapes, or escaped slashes.
pub(super) fn s3_key(rng: &mut Rng, bucket: &str, now: i64) -> String {
    let mut date = Vec::with_capacity(20);
    iso_into(&mut date, now);
    let day = std::str::from_utf8(date.get(..10).unwrap_or_default()).unwrap_or("2026-11-30");
    let n = rng.u32(..100_000);
    if chance(rng, 50) {
        return match rng.u32(..6) {
            0 => format!("reports/東京/売上-{day}-{n}.csv"),
            1 => format!(r"uploads/caf\u00e9/men\u00fc-{n}.pdf"),
            2 => format!(r"media/\ud83d\ude80/launch-{n}.png"),
            3 => format!("thumbnails/🎉/party-{n}.jpg"),
            4 => format!(r"exports\/{day}\/orders-{n}.csv"),
            _ => format!("invoices/Zoë Müller/reçu-{n}.pdf"),
        };
    }
    match bucket {
        b if b.contains("data-lake") => format!(
            "raw/events/dt={day}/hour={}/part-{n:05}-{}.snappy.parquet",
            date.get(11..13)
                .and_then(|h| std::str::from_utf8(h).ok())
                .unwrap_or("00"),
            uuid(rng)
        ),
        b if b.contains("order") => match rng.u32(..3) {
            0 => format!("orders/{day}/{}.json", uuid(rng)),
            1 => format!("templates/invoice-v{}.html", n % 4),
            _ => format!("exports/{day}/orders-{n}.csv.gz"),
        },
        b if b.contains("assets") => format!("static/js/main.{}.js", hex_id(rng, "", 8)),
        _ => format!("reports/daily/{day}-{n}.csv"),
    }
}

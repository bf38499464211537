//! The workload data plane: S3, DynamoDB, SQS, KMS and Secrets Manager.

use crate::synth::records::{Caller, Rec, ReqId, Res, Tail, Tls, host, s3_extra, s3_many_headers, s3_params};
use crate::synth::world::{KMS_KEY_ARN, REGION};

use super::{Err, HIDDEN};

const TABLE: &str = "arn:aws:dynamodb:ap-southeast-1:111122223333:table/";
const QUEUE: &str = "arn:aws:sqs:ap-southeast-1:111122223333:";
const QUEUE_URL: &str = "https://sqs.ap-southeast-1.amazonaws.com/111122223333/";

impl Rec<'_> {
    // ------------------------------------------------------------------ S3

    /// GetObject / HeadObject; `key` is JSON string content.
    pub(in crate::synth) fn s3_get(
        &mut self,
        c: &Caller<'_>,
        name: &'static str,
        bucket: &str,
        key: &str,
        size: u64,
        err: Err<'_>,
    ) {
        self.head("1.10", c, "s3.amazonaws.com", name, REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        s3_params(o, bucket, key);
        o.end();
        o.null("responseElements");
        let out = if err.is_some() || name == "HeadObject" {
            0
        } else {
            size
        };
        s3_extra(o, self.rng, 0, out, false);
        self.tail(
            Tail::new(true, "")
                .tls(Tls::Bucket(bucket))
                .id(ReqId::S3)
                .res(Res::Object(bucket, key))
                .data()
                .via(c.vpce),
        );
    }

    /// PutObject, with `headers` extra metadata headers (several KB when large).
    pub(in crate::synth) fn s3_put(
        &mut self,
        c: &Caller<'_>,
        bucket: &str,
        key: &str,
        size: u64,
        headers: usize,
        err: Err<'_>,
    ) {
        self.head("1.10", c, "s3.amazonaws.com", "PutObject", REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        s3_params(o, bucket, key);
        if headers > 0 {
            s3_many_headers(o, self.rng, headers);
        }
        o.end();
        if err.is_some() {
            o.null("responseElements");
        } else {
            o.obj("responseElements");
            o.lit("x-amz-server-side-encryption-aws-kms-key-id", KMS_KEY_ARN);
            o.lit("x-amz-server-side-encryption", "aws:kms");
            o.lit("x-amz-server-side-encryption-bucket-key-enabled", "false");
            o.open_str("x-amz-version-id");
            o.part_hex(self.rng, 32);
            o.close_str();
            o.end();
        }
        s3_extra(o, self.rng, size, 0, err.is_none());
        self.tail(
            Tail::new(false, "")
                .tls(Tls::Bucket(bucket))
                .id(ReqId::S3)
                .res(Res::Object(bucket, key))
                .data()
                .via(c.vpce),
        );
    }

    /// ListObjects (V2) under a prefix.
    pub(in crate::synth) fn s3_list(&mut self, c: &Caller<'_>, bucket: &str, prefix: &str) {
        self.head("1.10", c, "s3.amazonaws.com", "ListObjects", REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("list-type", "2");
        o.lit("bucketName", bucket);
        o.lit("encoding-type", "url");
        o.lit("max-keys", "1000");
        o.lit("prefix", prefix);
        o.open_str("Host");
        o.part(bucket);
        o.part(".s3.ap-southeast-1.amazonaws.com");
        o.close_str();
        o.end();
        o.null("responseElements");
        let out = self.rng.u64(2_000..60_000);
        s3_extra(o, self.rng, 0, out, false);
        self.tail(
            Tail::new(true, "")
                .tls(Tls::Bucket(bucket))
                .id(ReqId::S3)
                .res(Res::Bucket(bucket))
                .data()
                .via(c.vpce),
        );
    }

    /// ListBuckets (a management event).
    pub(in crate::synth) fn s3_list_buckets(&mut self, c: &Caller<'_>, err: Err<'_>) {
        self.head("1.10", c, "s3.amazonaws.com", "ListBuckets", REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("Host", host::S3_REGIONAL);
        o.end();
        o.null("responseElements");
        let out = if err.is_some() { 243 } else { 6214 };
        s3_extra(o, self.rng, 0, out, false);
        self.tail(Tail::new(true, host::S3_REGIONAL).id(ReqId::S3).via(c.vpce));
    }

    // ------------------------------------------------------------------ DynamoDB

    /// GetItem, PutItem, UpdateItem, Query, DeleteItem.
    pub(in crate::synth) fn ddb(&mut self, c: &Caller<'_>, name: &'static str, table: &str, err: Err<'_>) {
        self.head("1.09", c, "dynamodb.amazonaws.com", name, REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("tableName", table);
        match name {
            "Query" => {
                o.lit("indexName", "by-customer");
                o.n("limit", 50);
                o.lit("select", "ALL_ATTRIBUTES");
                o.lit("keyConditionExpression", "#pk = :pk AND begins_with(#sk, :sk)");
            }
            _ => {
                o.obj("key");
                o.lit("pk", HIDDEN);
                o.lit("sk", HIDDEN);
                o.end();
                if name == "UpdateItem" {
                    o.lit(
                        "updateExpression",
                        "SET #status = :status, #updatedAt = :now ADD #version :one",
                    );
                }
                if name == "PutItem" {
                    o.lit("conditionExpression", "attribute_not_exists(#pk)");
                }
            }
        }
        o.end();
        o.null("responseElements");
        let read_only = matches!(name, "GetItem" | "Query");
        self.tail(
            Tail::new(read_only, host::DYNAMODB)
                .id(ReqId::Dynamo)
                .res(Res::Arn("AWS::DynamoDB::Table", TABLE, table))
                .data()
                .via(c.vpce),
        );
    }

    /// BatchWriteItem of `n` items (a few KB).
    pub(in crate::synth) fn ddb_batch_write(&mut self, c: &Caller<'_>, table: &str, n: usize) {
        self.head(
            "1.09",
            c,
            "dynamodb.amazonaws.com",
            "BatchWriteItem",
            REGION,
            None,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.obj("requestItems");
        o.arr(table);
        for _ in 0..n {
            o.open();
            o.obj("putRequest");
            o.obj("key");
            o.lit("pk", HIDDEN);
            o.lit("sk", HIDDEN);
            o.end();
            o.end();
            o.end();
        }
        o.end_arr();
        o.end();
        o.end();
        o.obj("responseElements");
        o.raw("unprocessedItems", b"{}");
        o.end();
        self.tail(
            Tail::new(false, host::DYNAMODB)
                .id(ReqId::Dynamo)
                .res(Res::Arn("AWS::DynamoDB::Table", TABLE, table))
                .data()
                .via(c.vpce),
        );
    }

    // ------------------------------------------------------------------ SQS

    /// SendMessage, ReceiveMessage, DeleteMessage. `attrs` adds message attributes with
    /// non-ASCII text.
    pub(in crate::synth) fn sqs(
        &mut self,
        c: &Caller<'_>,
        name: &'static str,
        queue: &str,
        attrs: bool,
        err: Err<'_>,
    ) {
        self.head("1.09", c, "sqs.amazonaws.com", name, REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.open_str("queueUrl");
        o.part(QUEUE_URL);
        o.part(queue);
        o.close_str();
        match name {
            "ReceiveMessage" => {
                o.n("maxNumberOfMessages", 10);
                o.n("waitTimeSeconds", 20);
                o.raw("messageSystemAttributeNames", b"[\"All\"]");
                o.raw("messageAttributeNames", b"[\"All\"]");
            }
            "DeleteMessage" => {
                o.open_str("receiptHandle");
                o.part("AQEB");
                o.part_hex(self.rng, 48);
                o.part("/");
                o.part_hex(self.rng, 32);
                o.part("+");
                o.part_hex(self.rng, 40);
                o.part("==");
                o.close_str();
            }
            _ => {
                if attrs {
                    o.obj("messageAttributes");
                    o.obj("customer");
                    o.lit("dataType", "String");
                    o.lit("stringValue", "Zoë Müller / 東京都 \\ud83d\\udce6");
                    o.end();
                    o.obj("traceparent");
                    o.lit("dataType", "String");
                    o.open_str("stringValue");
                    o.part("00-");
                    o.part_hex(self.rng, 32);
                    o.part("-");
                    o.part_hex(self.rng, 16);
                    o.part("-01");
                    o.close_str();
                    o.end();
                    o.end();
                }
            }
        }
        o.end();
        if name == "SendMessage" && err.is_none() {
            o.obj("responseElements");
            o.open_str("mD5OfMessageBody");
            o.part_hex(self.rng, 32);
            o.close_str();
            if attrs {
                o.open_str("mD5OfMessageAttributes");
                o.part_hex(self.rng, 32);
                o.close_str();
            }
            o.uuid("messageId", self.rng);
            o.end();
        } else {
            o.null("responseElements");
        }
        self.tail(
            Tail::new(name == "ReceiveMessage", host::SQS)
                .res(Res::Arn("AWS::SQS::Queue", QUEUE, queue))
                .data()
                .via(c.vpce),
        );
    }

    /// SendMessageBatch of `n` entries.
    pub(in crate::synth) fn sqs_send_batch(&mut self, c: &Caller<'_>, queue: &str, n: usize) {
        self.head("1.09", c, "sqs.amazonaws.com", "SendMessageBatch", REGION, None);
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.open_str("queueUrl");
        o.part(QUEUE_URL);
        o.part(queue);
        o.close_str();
        o.arr("entries");
        for i in 0..n {
            o.open();
            o.open_str("id");
            o.part("msg-");
            o.part_num(i as u64);
            o.close_str();
            o.n("delaySeconds", 0);
            o.end();
        }
        o.end_arr();
        o.end();
        o.obj("responseElements");
        o.arr("successful");
        for i in 0..n {
            o.open();
            o.open_str("id");
            o.part("msg-");
            o.part_num(i as u64);
            o.close_str();
            o.uuid("messageId", self.rng);
            o.open_str("mD5OfMessageBody");
            o.part_hex(self.rng, 32);
            o.close_str();
            o.end();
        }
        o.end_arr();
        o.raw("failed", b"[]");
        o.end();
        self.tail(
            Tail::new(false, host::SQS)
                .res(Res::Arn("AWS::SQS::Queue", QUEUE, queue))
                .data()
                .via(c.vpce),
        );
    }

    // ------------------------------------------------------------------ KMS, Secrets Manager

    /// Decrypt or GenerateDataKey; `context` is the encryption context as JSON.
    pub(in crate::synth) fn kms(
        &mut self,
        c: &Caller<'_>,
        name: &'static str,
        context: &[u8],
        invoked: bool,
        err: Err<'_>,
    ) {
        self.head("1.11", c, "kms.amazonaws.com", name, REGION, err);
        let o = &mut *self.o;
        o.obj("requestParameters");
        if name == "GenerateDataKey" {
            o.lit("keyId", if invoked { KMS_KEY_ARN } else { "alias/prod-app" });
            o.lit("keySpec", "AES_256");
        } else {
            o.lit("encryptionAlgorithm", "SYMMETRIC_DEFAULT");
        }
        o.raw("encryptionContext", context);
        o.end();
        o.null("responseElements");
        let tail = if invoked {
            Tail::service(true)
        } else {
            Tail::new(true, host::KMS)
        };
        self.tail(tail.res(Res::Arn("AWS::KMS::Key", "", KMS_KEY_ARN)).via(c.vpce));
    }

    /// GetSecretValue.
    pub(in crate::synth) fn secret_get(&mut self, c: &Caller<'_>, secret: &str, err: Err<'_>) {
        self.head(
            "1.09",
            c,
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            REGION,
            err,
        );
        let o = &mut *self.o;
        o.obj("requestParameters");
        o.lit("secretId", secret);
        o.end();
        o.null("responseElements");
        self.tail(Tail::new(true, host::SECRETS).via(c.vpce));
    }
}

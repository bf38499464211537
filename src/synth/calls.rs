//! One function per kind of API call: its `requestParameters`, `responseElements`,
//! `additionalEventData`, resources and request-id format, as CloudTrail logs them.
//! The workload data plane is in `data`, credentials and IAM in `identity`, the
//! cluster's own machinery and AWS services in `platform`.

mod data;
mod identity;
mod platform;

/// An API error: (errorCode, errorMessage).
pub(super) type Err<'a> = Option<(&'a str, &'a str)>;

/// What CloudTrail writes in place of key attributes and tokens.
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// The pod a Pod Identity exchange is for (its session tags).
#[derive(Clone, Copy)]
pub(super) struct PodTags<'a> {
    pub namespace: &'a str,
    pub service_account: &'a str,
    pub pod: &'a str,
    pub uid: &'a str,
}

/// An encryption context, as JSON.
pub(super) fn kms_context(o: &mut Vec<u8>, kind: usize, bucket: &str, key: &str) {
    o.clear();
    match kind {
        0 => {
            o.extend_from_slice(b"{\"aws:s3:arn\":\"arn:aws:s3:::");
            o.extend_from_slice(bucket.as_bytes());
            o.push(b'/');
            o.extend_from_slice(key.as_bytes());
            o.extend_from_slice(b"\"}");
        }
        1 => o.extend_from_slice(
            b"{\"aws:dynamodb:tableName\":\"payments\",\"aws:dynamodb:subscriberId\":\"111122223333\"}",
        ),
        2 => o.extend_from_slice(b"{\"service\":\"payment-service\",\"purpose\":\"card-token\"}"),
        _ => o.extend_from_slice(
            b"{\"aws:sqs:arn\":\"arn:aws:sqs:ap-southeast-1:111122223333:notifications\"}",
        ),
    }
}

//! `sdk_config` against moto directly: S3 (REST-XML, path style) and SNS (Query).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use aws_sdk_s3::primitives::ByteStream;
use trailwatch_aws_test_support::{Moto, sdk_config, unique_name};

#[tokio::test]
async fn s3_put_then_get_object() {
    let conf = sdk_config(Moto::shared().endpoint()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique_name("trailwatch-test");
    let key = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/12/01/trail.json.gz";
    let body = b"{\"Records\":[]}".repeat(1000);

    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    s3.put_object()
        .bucket(&bucket)
        .key(key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("PutObject");
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .expect("GetObject");
    assert_eq!(got.content_length(), Some(i64::try_from(body.len()).unwrap()));
    let bytes = got.body.collect().await.expect("object body").into_bytes();
    assert_eq!(bytes.as_ref(), body.as_slice());

    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("ListObjectsV2");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [key]);

    let missing = s3
        .get_object()
        .bucket(&bucket)
        .key("no/such/key")
        .send()
        .await
        .expect_err("a missing key must fail");
    assert!(missing.into_service_error().is_no_such_key());
}

#[tokio::test]
async fn sns_create_topic_and_publish() {
    let conf = sdk_config(Moto::shared().endpoint()).await;
    let sns = aws_sdk_sns::Client::new(&conf);
    let name = unique_name("trailwatch-alerts");

    let created = sns.create_topic().name(&name).send().await.expect("CreateTopic");
    let arn = created
        .topic_arn()
        .expect("CreateTopic returns the ARN")
        .to_owned();
    assert_eq!(arn, format!("arn:aws:sns:us-east-1:123456789012:{name}"));

    let attributes = sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .expect("GetTopicAttributes");
    assert_eq!(
        attributes
            .attributes()
            .and_then(|a| a.get("TopicArn"))
            .map(String::as_str),
        Some(arn.as_str())
    );

    let published = sns
        .publish()
        .topic_arn(&arn)
        .subject("trailwatch")
        .message("a finding")
        .send()
        .await
        .expect("Publish");
    assert!(published.message_id().is_some_and(|id| !id.is_empty()));
}

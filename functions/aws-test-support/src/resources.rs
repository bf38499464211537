//! The AWS resources the functions need, made on moto the way the Terraform module makes
//! them: shared by the crate's tests and its Lambda-path bench.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::unique_name;

/// A state table: partition key `pk` (S), on demand.
pub async fn create_state_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) {
    dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// An alert topic with an SQS queue subscribed, both named after `prefix`: (topic ARN,
/// queue URL).
pub async fn create_alert_topic(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
) -> (String, String) {
    let topic_arn = sns
        .create_topic()
        .name(unique_name(prefix))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique_name(prefix))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = queue_attribute(sqs, &queue_url, QueueAttributeName::QueueArn).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    (topic_arn, queue_url)
}

/// One attribute of a queue.
pub async fn queue_attribute(sqs: &aws_sdk_sqs::Client, queue_url: &str, name: QueueAttributeName) -> String {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap();
    out.attributes.unwrap()[&name].clone()
}

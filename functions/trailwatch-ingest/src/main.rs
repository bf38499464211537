//! `trailwatch-ingest`: CloudTrail objects announced through SQS (S3 notifications,
//! raw or SNS-wrapped, or CloudTrail's own SNS notification), direct S3 events or
//! EventBridge → detections → SNS alerts and CloudWatch metrics.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;
use trailwatch_aws::ingest::{Deadline, handle_within};
use trailwatch_aws::services::{Clients, Services, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // Clients and configuration once per cold start; a bad configuration fails the init.
    let sdk = aws_config::load_from_env().await;
    let services = Arc::new(Services::new(Clients::new(&sdk), Settings::from_env()?).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let services = Arc::clone(&services);
        let deadline = Deadline::at(event.context.deadline());
        async move { Ok::<Value, Error>(handle_within(services, event.payload, deadline).await?) }
    }))
    .await
}

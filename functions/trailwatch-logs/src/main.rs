//! `trailwatch-logs`: a CloudWatch Logs subscription on the CloudTrail log group →
//! detections → SNS alerts and CloudWatch metrics.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;
use trailwatch_aws::services::{Clients, Services, Settings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let sdk = aws_config::load_from_env().await;
    let services = Arc::new(Services::new(Clients::new(&sdk), Settings::from_env()?).await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let services = Arc::clone(&services);
        async move {
            trailwatch_aws::logs::handle(services, event.payload).await?;
            Ok::<(), Error>(())
        }
    }))
    .await
}

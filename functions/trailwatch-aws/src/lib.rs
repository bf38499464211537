//! The AWS edge of trailwatch, shared by the Lambda functions: where objects come from
//! (S3 notifications in their envelopes), where state lives (DynamoDB), where alerts
//! and metrics go (SNS, CloudWatch). The engine itself stays free of AWS.

pub mod dynamo;
pub mod ingest;
pub mod logs;
pub mod metrics;
pub mod objects;
pub mod outbox;
pub mod services;
pub mod sns;

pub use services::{Services, ServicesError};

//! Test-only helpers for exercising the trailwatch AWS adapters against moto server.
//!
//! There is no AWS account here: every AWS API is served by [moto server] on 127.0.0.1, spoken
//! to over real HTTP by the real AWS SDK for Rust.
//!
//! - [`Moto`] starts one moto server (per test process with [`Moto::shared`]) and makes sure it
//!   dies with the process.
//! - [`sdk_config`] builds an [`aws_config::SdkConfig`] pointing at an endpoint, with dummy
//!   static credentials and nothing read from the environment, profile files or IMDS.
//! - [`CborGateway`] lets `aws-sdk-cloudwatch`, which speaks Smithy RPC v2 CBOR, talk to moto,
//!   which only serves CloudWatch's AWS JSON 1.0 and Query protocols.
//! - [`SnsFaultProxy`] sits between the SNS client and moto and makes `PublishBatch` fail in
//!   part or in whole, as SNS can; [`DynamoFaultProxy`] makes DynamoDB calls on chosen keys
//!   fail.
//! - [`Moto::enforce_iam`] makes a private moto check signatures and IAM policies (moto lets
//!   every request through by default), for tests of denied calls.
//!
//! ```no_run
//! # async fn demo() {
//! use trailwatch_aws_test_support::{CborGateway, Moto, sdk_config, unique_name};
//!
//! let moto = Moto::shared();
//! // Every client but CloudWatch talks to moto directly...
//! let sns = aws_sdk_sns::Client::new(&sdk_config(moto.endpoint()).await);
//! // ...CloudWatch goes through the gateway.
//! let cw = aws_sdk_cloudwatch::Client::new(&sdk_config(CborGateway::shared().endpoint()).await);
//! // Tests share the server: isolate them by unique resource names.
//! let topic = unique_name("alerts");
//! # let _ = (sns, cw, topic);
//! # }
//! ```
//!
//! moto 5.2.5 quirks that tests must live with (found while writing this crate's tests):
//!
//! - CloudWatch `GetMetricData` ignores a query's namespace as soon as the query has
//!   dimensions: give every test's metrics a dimension with a unique value (say
//!   `Run = unique_name("run")`), not only a unique namespace.
//! - `PutMetricData` accepts an empty namespace; mismatched `Values`/`Counts` lengths do fail
//!   (`InvalidParameterValue`), and so does `GetMetricData` with `EndTime` before `StartTime`
//!   (`ValidationError`).
//! - A new alarm starts in `OK`, not `INSUFFICIENT_DATA`.
//! - Operations moto does not implement (for example `GetMetricWidgetImage`,
//!   `DescribeAlarmHistory`) answer 500 with an HTML page; through the gateway that is a service
//!   error with code `TrailwatchCborGatewayError` and the page as its message.
//! - Sub-second timestamps come back as floats, which the SDK truncates to milliseconds: `.05`
//!   may read as `.049` (as it would from CloudWatch itself).
//!
//! [moto server]: https://docs.getmoto.org/en/latest/docs/server_mode.html

// Test support: a helper that cannot do its job has nothing better to do than fail the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod dynamo_faults;
mod gateway;
mod moto;
mod proxy;
mod resources;
mod sns_faults;
pub mod translate;

pub use config::{DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, REGION, sdk_config, unique_name};
pub use dynamo_faults::{DynamoFault, DynamoFaultProxy};
pub use gateway::CborGateway;
pub use moto::{MOTO_SERVER_ENV, Moto};
pub use proxy::INJECTED_MESSAGE;
pub use resources::{create_alert_topic, create_state_table, queue_attribute};
pub use sns_faults::{PublishBatchCall, SnsFault, SnsFaultProxy};

//! SDK configuration for moto, and unique names for test isolation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The region every test client uses.
pub const REGION: &str = "us-east-1";
/// Access key id of the static dummy credentials (moto accepts any).
pub const DUMMY_ACCESS_KEY_ID: &str = "testing";
/// Secret access key of the static dummy credentials.
pub const DUMMY_SECRET_ACCESS_KEY: &str = "testing";

/// An [`SdkConfig`] for clients that talk to `endpoint` (for example [`crate::Moto::endpoint`]
/// or [`crate::CborGateway::endpoint`]).
///
/// Region `us-east-1`, static dummy credentials (`testing`/`testing`), `endpoint_url(endpoint)`,
/// [`BehaviorVersion::latest`], and bounded timeouts (3 s to connect, 30 s per attempt, 60 s
/// per operation) so that a broken server fails a test instead of hanging it.
///
/// The config is built directly rather than through `aws_config::defaults`: nothing is read from
/// the environment (`AWS_*` variables), profile files or IMDS, so a developer's own AWS setup
/// cannot leak into or break a test. Retries, HTTP client, sleep and time source are the SDK's
/// defaults for the behavior version.
///
/// S3 needs path-style addressing against moto (there is no wildcard DNS for
/// `bucket.127.0.0.1`); set it on the service config:
///
/// ```no_run
/// # async fn demo(endpoint: &str) {
/// let conf = trailwatch_aws_test_support::sdk_config(endpoint).await;
/// let s3 = aws_sdk_s3::Client::from_conf(
///     aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build(),
/// );
/// # let _ = s3;
/// # }
/// ```
///
/// It is `async` to match `aws_config::load_defaults` at call sites; it awaits nothing.
#[allow(clippy::unused_async)]
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new(
        DUMMY_ACCESS_KEY_ID,
        DUMMY_SECRET_ACCESS_KEY,
        None,
        None,
        "trailwatch-aws-test-support",
    );
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .endpoint_url(endpoint)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .build()
}

/// A name unique to this call, for isolating tests that share one moto server.
///
/// `{prefix}-{pid}-{time}-{counter}`, in lowercase letters, digits and hyphens only, so it is a
/// valid S3 bucket, SNS topic, SQS queue, DynamoDB table and CloudWatch namespace name as long
/// as `prefix` is (keep `prefix` under 30 characters for S3's 63-character limit).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    // The low 40 bits of the time in microseconds: about 12 days before they wrap.
    format!(
        "{prefix}-{}-{:x}-{n}",
        std::process::id(),
        micros & 0xff_ffff_ffff
    )
}

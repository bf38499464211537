//! Everything a function builds once at cold start: the engine from its configuration,
//! the AWS clients, and the sinks.
//!
//! Environment (Lambda caps all variables at 4 KB together, so the configuration itself
//! never travels in one):
//! - `TRAILWATCH_CONFIG`: where the TOML is: a path (default `trailwatch.toml` beside the
//!   bootstrap), `s3://bucket/key`, or `ssm:/parameter/name`.
//! - `TRAILWATCH_ALERT_TOPIC_ARN`: the SNS topic for alerts (required).
//! - `TRAILWATCH_STATE_TABLE`: the DynamoDB state table (required).
//! - `TRAILWATCH_MAX_CONCURRENCY`: objects processed at once (default 4).

use std::sync::Arc;

use aws_config::SdkConfig;

use trailwatch::{Config, Engine, Inventory};

use crate::dynamo::DynamoStore;
use crate::metrics::MetricsSink;
use crate::sns::AlertPublisher;

/// Env var naming the configuration location.
pub const ENV_CONFIG: &str = "TRAILWATCH_CONFIG";
/// Env var with the alert topic ARN.
pub const ENV_TOPIC: &str = "TRAILWATCH_ALERT_TOPIC_ARN";
/// Env var with the state table name.
pub const ENV_TABLE: &str = "TRAILWATCH_STATE_TABLE";
/// Env var with the object concurrency.
pub const ENV_CONCURRENCY: &str = "TRAILWATCH_MAX_CONCURRENCY";

/// A function that cannot start, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServicesError {
    /// A required variable is missing or invalid.
    #[error("environment variable {name}: {problem}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The configuration could not be fetched.
    #[error("cannot load configuration from {location}: {problem}")]
    Load {
        /// Where it was looked for.
        location: String,
        /// What went wrong.
        problem: String,
    },
    /// The configuration is invalid.
    #[error("invalid configuration from {location}: {source}")]
    Invalid {
        /// Where it came from.
        location: String,
        /// The problem, naming the key.
        source: trailwatch::ConfigError,
    },
}

/// The settings a function reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Configuration location.
    pub config: String,
    /// Alert topic.
    pub topic_arn: String,
    /// State table.
    pub table: String,
    /// Objects processed at once.
    pub concurrency: usize,
}

impl Settings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, ServicesError> {
        let required = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or(ServicesError::Env {
                    name,
                    problem: "not set".into(),
                })
        };
        let concurrency = match std::env::var(ENV_CONCURRENCY) {
            Ok(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or(ServicesError::Env {
                    name: ENV_CONCURRENCY,
                    problem: format!("{v:?} is not a number from 1 to 64"),
                })?,
            Err(_) => 4,
        };
        Ok(Self {
            config: std::env::var(ENV_CONFIG).unwrap_or_else(|_| "trailwatch.toml".into()),
            topic_arn: required(ENV_TOPIC)?,
            table: required(ENV_TABLE)?,
            concurrency,
        })
    }
}

/// The engine, clients and sinks of one function instance.
pub struct Services {
    /// The engine.
    pub engine: Arc<Engine>,
    /// Detection and alert state.
    pub store: Arc<DynamoStore>,
    /// Where alerts go.
    pub alerts: AlertPublisher,
    /// Where metrics go.
    pub metrics: MetricsSink,
    /// S3, for reading objects.
    pub s3: aws_sdk_s3::Client,
    /// Objects processed at once.
    pub concurrency: usize,
}

/// The AWS clients a function uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// S3 (objects, configuration).
    pub s3: aws_sdk_s3::Client,
    /// SNS (alerts).
    pub sns: aws_sdk_sns::Client,
    /// CloudWatch (metrics).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// DynamoDB (state).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SSM (configuration).
    pub ssm: aws_sdk_ssm::Client,
}

impl Clients {
    /// Every client from one SDK configuration.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            s3: s3_client(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
        }
    }
}

impl Services {
    /// Builds everything from `settings`, loading the configuration it points at.
    pub async fn new(clients: Clients, settings: Settings) -> Result<Self, ServicesError> {
        let text = load_config(&clients, &settings.config).await?;
        let invalid = |source| ServicesError::Invalid {
            location: settings.config.clone(),
            source,
        };
        let inventory = Config::from_toml(&text)
            .and_then(Inventory::new)
            .map_err(invalid)?;
        let metrics = MetricsSink::new(clients.cloudwatch, &inventory);
        let engine = Engine::new(inventory).map_err(invalid)?;
        Ok(Self {
            engine: Arc::new(engine),
            store: Arc::new(DynamoStore::new(clients.dynamodb, settings.table)),
            alerts: AlertPublisher::new(clients.sns, settings.topic_arn),
            metrics,
            s3: clients.s3,
            concurrency: settings.concurrency,
        })
    }
}

/// An S3 client; path-style addressing when an endpoint override is set (local S3 APIs
/// such as moto do not resolve bucket subdomains).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = sdk.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .build(),
    )
}

async fn load_config(clients: &Clients, location: &str) -> Result<String, ServicesError> {
    let fail = |problem: String| ServicesError::Load {
        location: location.to_string(),
        problem,
    };
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| fail("expected s3://bucket/key".into()))?;
        let object = clients
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| fail(error_chain(&e)))?;
        let bytes = object.body.collect().await.map_err(|e| fail(e.to_string()))?;
        return String::from_utf8(bytes.to_vec()).map_err(|e| fail(e.to_string()));
    }
    if let Some(name) = location.strip_prefix("ssm:") {
        let out = clients
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| fail(error_chain(&e)))?;
        return out
            .parameter
            .and_then(|p| p.value)
            .ok_or_else(|| fail("parameter has no value".into()));
    }
    std::fs::read_to_string(location).map_err(|e| fail(e.to_string()))
}

/// An error with its sources, on one line (SDK errors hide the useful part in sources).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

//! trailwatch: watch how Amazon EKS workloads get and use AWS credentials, from CloudTrail.
//!
//! The engine is synchronous and free of AWS SDKs: bytes from any [`std::io::Read`] are
//! decompressed, split into records, parsed into borrowed [`record::RecordView`]s and
//! run through the [`detect`] rules; findings go to a [`engine::Sink`]. Everything
//! AWS-specific lives in the Lambda functions under `functions/`.

pub mod alert;
pub mod config;
pub mod decode;
pub mod detect;
pub mod engine;
pub mod finding;
pub mod record;
pub mod state;
pub mod synth;

pub use config::{Config, ConfigError, Inventory};
pub use engine::{Engine, FileError, FileStats, Sink};
pub use finding::{Finding, Severity};

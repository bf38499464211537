//! Shared by the targets: one engine with small limits, and the finding invariants.

use std::sync::OnceLock;

use trailwatch::finding::{MAX_ARN_CHARS, MAX_FIELD_CHARS};
use trailwatch::{Config, Engine, Finding, Inventory};

/// The decompression cap of [`engine`]: small, so a bomb costs a millisecond, not a
/// second (the cap works the same at any size).
pub const MAX_DECOMPRESSED: u64 = 1 << 20;

/// The sample configuration (clusters, bindings, node roles: every detection can fire),
/// with limits small enough that a bomb or a huge record costs milliseconds.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::from_toml(include_str!("../../samples/trailwatch.toml"))
            .expect("samples/trailwatch.toml parses");
        config.input.max_decompressed_bytes = MAX_DECOMPRESSED;
        config.input.max_record_bytes = 64 << 10;
        Engine::new(Inventory::new(config).expect("valid inventory")).expect("valid engine")
    })
}

/// What every finding must hold whatever the input: record strings capped, no control
/// characters anywhere (they would break a log line, a subject or a terminal).
pub fn check(finding: &Finding) {
    let capped = [
        (&finding.cluster, MAX_FIELD_CHARS),
        (&finding.namespace, MAX_FIELD_CHARS),
        (&finding.service_account, MAX_FIELD_CHARS),
        (&finding.source_ip, MAX_FIELD_CHARS),
        (&finding.error_code, MAX_FIELD_CHARS),
        (&finding.account, MAX_FIELD_CHARS),
        (&finding.region, MAX_FIELD_CHARS),
        (&finding.action, MAX_FIELD_CHARS),
        (&finding.user_agent, MAX_FIELD_CHARS),
        (&finding.first_seen, MAX_FIELD_CHARS),
        (&finding.last_seen, MAX_FIELD_CHARS),
        (&finding.role_arn, MAX_ARN_CHARS),
        (&finding.principal_arn, MAX_ARN_CHARS),
    ];
    for (value, max) in capped {
        if let Some(s) = value {
            // `clean` keeps `max` characters of the input and appends '…'; an escaped
            // control character takes up to six (`\u{1b}`).
            let limit = 6 * max + 1;
            assert!(
                s.chars().count() <= limit,
                "{} chars > {limit}: {finding:?}",
                s.chars().count()
            );
            assert!(!s.chars().any(char::is_control), "control character: {s:?}");
        }
    }
    for id in &finding.event_ids {
        assert!(id.chars().count() <= 6 * MAX_FIELD_CHARS + 1, "event id too long");
        assert!(!id.chars().any(char::is_control), "control character: {id:?}");
    }
    for s in [&finding.title, &finding.summary]
        .into_iter()
        .chain(finding.diagnosis.as_ref())
        .chain(finding.remediation.as_ref())
    {
        assert!(!s.chars().any(char::is_control), "control character: {s:?}");
        // Composed of a few capped pieces: never anywhere near the input size.
        assert!(
            s.chars().count() <= 8 * 6 * MAX_ARN_CHARS,
            "{} chars: {s:?}",
            s.chars().count()
        );
    }
    let json = serde_json::to_string(finding).expect("a finding serialises");
    let back: serde_json::Value = serde_json::from_str(&json).expect("finding JSON parses back");
    assert_eq!(back["detection"], finding.detection);
}

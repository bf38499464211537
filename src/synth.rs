//! Deterministic synthetic CloudTrail logs for benchmarks: the traffic of a busy EKS
//! account, streamed as one CloudTrail document (`{"Records":[…]}` on one line).
//!
//! The account is the one `samples/trailwatch.toml` describes — cluster `prod` in
//! 111122223333 / ap-southeast-1, its OIDC provider, node role `prod-node-role`, NAT
//! gateways 52.1.2.3/52.1.2.4 and VPC 10.0.0.0/16 — so every detector follows its real
//! code path. Twelve nodes and nine workloads (29 pods; order-service, payment-service
//! and prometheus are the configured bindings) call AWS with the credentials their own
//! exchanges handed out: each pod's `ASIA…` key appears first in an
//! `AssumeRoleWithWebIdentity` or Pod Identity response and then signs the pod's calls
//! until its SDK refreshes it, so credential stitching has real work. Event time starts
//! at 2026-11-30T08:00:00Z and advances by 0–76 ms a step (≈ 28 records/s: 100 MB is
//! ≈ 30 min of traffic, 1 GB ≈ 5 h).
//!
//! The mix, by record count (measured on 100 MB and 1 GB, seed 1; they agree within
//! 0.2 points):
//!
//! | share | what |
//! |---|---|
//! | 65.7 % | workload data plane with IRSA / Pod Identity sessions, from pod IPs through VPC endpoints or from the NAT gateways: DynamoDB GetItem/PutItem/Query/UpdateItem/BatchWriteItem 21 %, SQS SendMessage/ReceiveMessage/DeleteMessage/SendMessageBatch 16 %, S3 GetObject/PutObject/HeadObject/ListObjects 11 %, KMS Decrypt/GenerateDataKey 6 %, ELB, CloudWatch, EC2 volumes, Route 53, tagging, Secrets Manager, STS 9 % |
//! | 4.3 % | KMS Decrypt/GenerateDataKey that S3 makes for SSE-KMS objects (`invokedBy: s3.amazonaws.com`) |
//! | 3.0 % | credential exchanges: IRSA `AssumeRoleWithWebIdentity` (WebIdentityUser; credentials with session token, `assumedRoleUser`, `subjectFromWebIdentityToken`, provider, audience), and Pod Identity `sts:AssumeRole` by pods.eks.amazonaws.com with the six session tags plus the node agent's `eks-auth:AssumeRoleForPodIdentity`. 3 % of IRSA and 1 % of Pod Identity exchanges fail first (InvalidIdentityToken, AccessDenied, ExpiredTokenException, IDPCommunicationError; AccessDenied/AccessDeniedException) |
//! | 20.2 % | node-role sessions (IMDSv2), all in the node allowlist: ECR GetAuthorizationToken/BatchGetImage/GetDownloadUrlForLayer (image pulls of new pods included), EC2 Describe*/ENI/IP calls of the VPC CNI, DescribeInstanceTypes (several KB) and Auto Scaling of the cluster autoscaler, CloudWatch Logs, SSM agent, EKS DescribeCluster, GetCallerIdentity |
//! | 0.4 % | EC2 vending node credentials (`sts:AssumeRole` invoked by ec2.amazonaws.com) |
//! | 1.5 % | EKS and Auto Scaling service-linked roles (`invokedBy` eks/autoscaling) |
//! | 2.9 % | people (IAM Identity Center admin role) from the office: EKS, IAM, CloudFormation, S3 reads, console DescribeInstances over 150–1400 instances (5–50 KB) |
//! | 2.1 % | CI: GitHub Actions web identity exchanges and image pushes (PutImage carries an escaped JSON manifest); the allowlisted `legacy-ci` IAM user (`AKIA…` key, TLS 1.2) |
//! | < 0.5 % | episodes (their records are counted above by principal), one every 400–800 steps, in turn: foreign subject refused, unregistered issuer, Pod Identity refused, unexpected subject, hard-coded `AKIA…` key, SDK fallback to the node role, workload credentials used from outside, node credentials used from outside, IMDSv1, trust policy change, other identity changes, an AccessDenied burst, a cross-account assume, node-role misuse |
//!
//! Errors (0.8 % of records): 0.4 % of workload calls are denied (AccessDenied /
//! AccessDeniedException with IAM's message); ordinary errors (NoSuchKey,
//! ConditionalCheckFailedException, ProvisionedThroughputExceededException,
//! NoSuchEntityException). Large values: 1.4 % of records carry 5–50 KB of
//! requestParameters/responseElements (DescribeInstances and DescribeInstanceTypes lists,
//! ELB RegisterTargets, PutObject with hundreds of `x-amz-meta-*` headers, BatchWriteItem,
//! CreateNetworkInterface responses); every exchange carries a ~640-character session
//! token. Text: one S3 key in twenty has raw UTF-8 (Japanese, emoji, accents), `\u00e9`
//! or `\ud83d\ude80` escapes or `\/`; user agents include `\"`, `\\`, `\u00e9`, `\/` and
//! Japanese; SQS message attributes carry non-ASCII text; trust policies and image
//! manifests are JSON documents inside strings (`\n`, `\"`); error messages quote
//! (IAM's `Invalid principal in policy: \"AWS\":…`) and carry backslashes (STS's
//! `[\\w+=,.@-]*`).
//!
//! On the sample configuration a file yields findings from most detections on well under
//! 1 % of its records: a realistic, mostly benign account. (`first-seen-role-source`
//! stays in its learning period: a file covers hours, the period is a week.)
//!
//! Same seed and size, same bytes. Memory stays flat: records are written into one
//! reused buffer and handed to the writer in 256 KiB pieces.

mod calls;
mod json;
mod records;
mod traffic;
mod world;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthOptions {
    /// Target size of the uncompressed document in bytes; the result is at most this
    /// (always at least one record) and short of it by less than one step's records.
    pub bytes: u64,
    /// Seed of the pseudo-random generator: same seed and size, same bytes.
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthStats {
    /// Records in the document.
    pub records: u64,
    /// Uncompressed bytes written.
    pub bytes: u64,
}

const PREFIX: &[u8] = b"{\"Records\":[";
const SUFFIX: &[u8] = b"]}";
/// Pieces handed to the writer.
const FLUSH_BYTES: usize = 256 * 1024;

/// Writes one CloudTrail document of about `opts.bytes` bytes to `out` (uncompressed).
pub fn write_records<W: Write>(mut out: W, opts: &SynthOptions) -> io::Result<SynthStats> {
    let mut generator = traffic::Gen::new(opts.seed);
    let o = &mut generator.o;
    o.buf.extend_from_slice(PREFIX);
    // Each record is followed by a comma; the last one's becomes part of the suffix.
    let budget = opts.bytes.saturating_sub((PREFIX.len() + SUFFIX.len()) as u64) + 1;
    let (mut used, mut records, mut written) = (0u64, 0u64, 0u64);
    'steps: loop {
        let start = generator.o.buf.len();
        generator.o.ends.clear();
        generator.step();
        let o = &mut generator.o;
        let mut kept = start;
        for &end in &o.ends {
            let len = (end - kept) as u64;
            if used + len > budget && records > 0 {
                o.buf.truncate(kept);
                break 'steps;
            }
            used += len;
            records += 1;
            kept = end;
        }
        if o.buf.len() >= FLUSH_BYTES {
            // Keep the last byte (a record's comma): it may have to become the suffix.
            let n = o.buf.len() - 1;
            out.write_all(&o.buf[..n])?;
            written += n as u64;
            o.buf.drain(..n);
        }
    }
    let o = &mut generator.o;
    if o.buf.last() == Some(&b',') {
        o.buf.pop();
    }
    o.buf.extend_from_slice(SUFFIX);
    out.write_all(&o.buf)?;
    written += o.buf.len() as u64;
    out.flush()?;
    Ok(SynthStats {
        records,
        bytes: written,
    })
}

/// Like [`write_records`], gzip-compressed at level 6 (as CloudTrail delivers logs).
pub fn write_gzip<W: Write>(out: W, opts: &SynthOptions) -> io::Result<SynthStats> {
    let mut gz = GzEncoder::new(out, Compression::new(6));
    let stats = write_records(&mut gz, opts)?;
    gz.finish()?.flush()?;
    Ok(stats)
}

/// Writes a gzip-compressed document to a new file at `path`.
pub fn write_gzip_file(path: impl AsRef<Path>, opts: &SynthOptions) -> io::Result<SynthStats> {
    let file = File::create(path)?;
    write_gzip(BufWriter::with_capacity(1 << 20, file), opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(bytes: u64, seed: u64) -> (Vec<u8>, SynthStats) {
        let mut out = Vec::new();
        let stats = write_records(&mut out, &SynthOptions { bytes, seed }).unwrap();
        (out, stats)
    }

    #[test]
    fn tiny_targets_still_make_a_document() {
        for bytes in [0, 10, 2_000, 20_000] {
            let (out, stats) = generate(bytes, 3);
            let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let records = doc["Records"].as_array().unwrap();
            assert_eq!(records.len() as u64, stats.records, "{bytes}");
            assert!(stats.records >= 1, "{bytes}");
            assert_eq!(stats.bytes, out.len() as u64, "{bytes}");
            if stats.records > 1 {
                assert!(stats.bytes <= bytes, "{bytes}: {}", stats.bytes);
            }
        }
    }

    #[test]
    fn flushing_does_not_change_the_bytes() {
        // Above and below the flush size, the same seed gives a prefix-compatible stream.
        let (small, _) = generate(300_000, 9);
        let (large, _) = generate(1_000_000, 9);
        let cut = small.len() - 2;
        assert_eq!(small[..cut], large[..cut]);
    }
}

//! `trailwatch gen`: synthetic CloudTrail logs of a busy EKS account, for benchmarks.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use bytesize::ByteSize;

use trailwatch::synth::{self, SynthOptions, SynthStats};

/// Writes one CloudTrail document (`{"Records":[…]}`) of about the given size; the same
/// seed and size always give the same bytes.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Uncompressed size: decimal (1MB, 100MB, 1GB) or binary (64MiB, 1GiB) units.
    #[arg(long, value_name = "SIZE", default_value = "100MB")]
    size: ByteSize,
    /// Seed of the generator.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Output file, gzip level 6 when the name ends in `.gz` (default: plain JSON on stdout).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `trailwatch gen`.
pub fn run(args: GenArgs) -> anyhow::Result<u8> {
    let opts = SynthOptions {
        bytes: args.size.as_u64(),
        seed: args.seed,
    };
    let started = Instant::now();
    let (stats, target, compressed) = match args.output.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            let gzip = path.extension().is_some_and(|e| e == "gz");
            let stats = if gzip {
                synth::write_gzip_file(path, &opts)
            } else {
                File::create(path)
                    .and_then(|f| synth::write_records(BufWriter::with_capacity(1 << 20, f), &opts))
            }
            .with_context(|| format!("cannot write {}", path.display()))?;
            let compressed = gzip.then(|| path.metadata().ok().map(|m| m.len())).flatten();
            (stats, path.display().to_string(), compressed)
        }
        _ => {
            let stdout = io::stdout().lock();
            anyhow::ensure!(
                !stdout.is_terminal(),
                "refusing to write CloudTrail JSON to a terminal: use --output FILE or a pipe"
            );
            match synth::write_records(BufWriter::with_capacity(1 << 20, stdout), &opts) {
                Ok(stats) => (stats, "stdout".to_string(), None),
                // `trailwatch gen | head -c 1000` is fine.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(super::EXIT_OK),
                Err(e) => return Err(e).context("cannot write to stdout"),
            }
        }
    };
    report(&stats, &target, compressed, started.elapsed().as_secs_f64());
    Ok(super::EXIT_OK)
}

fn report(stats: &SynthStats, target: &str, compressed: Option<u64>, secs: f64) {
    let rate = stats.bytes as f64 / 1e6 / secs.max(1e-9);
    let gz = compressed.map_or_else(String::new, |c| {
        format!(", {} gzipped", ByteSize(c).display().si())
    });
    eprintln!(
        "trailwatch gen: {} records, {} uncompressed{gz}, to {target} in {secs:.2} s ({rate:.0} MB/s)",
        stats.records,
        ByteSize(stats.bytes).display().si(),
    );
}

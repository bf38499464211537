//! The gateway's CloudWatch member typing matches the model moto itself serves.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use trailwatch_aws_test_support::Moto;
use trailwatch_aws_test_support::translate::{Kind, Schema};

/// Prints `name<TAB>kind` for every member of a non-string scalar kind (looking through lists
/// and maps) in the output and error shapes of botocore's CloudWatch model: the model moto
/// serializes its responses with.
const DUMP_MODEL: &str = r#"
import botocore.session
model = botocore.session.get_session().get_service_model("cloudwatch")
SCALARS = {"timestamp", "double", "float", "integer", "long", "blob"}
seen, found = set(), set()

def kind(shape):
    if shape.type_name == "list":
        return kind(shape.member)
    if shape.type_name == "map":
        inner = kind(shape.value)
        return "map<" + inner + ">" if inner else None
    return shape.type_name if shape.type_name in SCALARS else None

def walk(shape):
    if shape.name in seen:
        return
    seen.add(shape.name)
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            k = kind(member)
            if k:
                found.add((name, k))
            walk(member)
    elif shape.type_name == "list":
        walk(shape.member)
    elif shape.type_name == "map":
        walk(shape.value)

for op in model.operation_names:
    operation = model.operation_model(op)
    if operation.output_shape is not None:
        walk(operation.output_shape)
    for error in operation.error_shapes:
        walk(error)
for name, k in sorted(found):
    print(name + "\t" + k)
"#;

/// The interpreter of the `moto_server` script: the venv's python, which has botocore.
fn moto_python() -> PathBuf {
    let server = Moto::server_binary();
    let script = std::fs::read_to_string(&server).unwrap_or_default();
    script
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .map(|interpreter| PathBuf::from(interpreter.trim()))
        .unwrap_or_else(|| panic!("{} is not a script with a #! line", server.display()))
}

#[test]
fn cloudwatch_schema_matches_moto_model() {
    let python = moto_python();
    let output = Command::new(&python)
        .args(["-c", DUMP_MODEL])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut model: BTreeMap<String, Kind> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).expect("UTF-8").lines() {
        let (name, kind) = line.split_once('\t').expect("name<TAB>kind");
        let kind = match kind {
            "timestamp" => Kind::Timestamp,
            "double" | "float" => Kind::Double,
            "integer" | "long" => Kind::Integer,
            "blob" => Kind::Blob,
            "map<double>" | "map<float>" => Kind::DoubleMap,
            other => panic!("{name}: no Kind for {other}"),
        };
        if let Some(previous) = model.insert(name.to_owned(), kind) {
            assert_eq!(
                previous, kind,
                "{name} has two kinds in the model: name-based typing cannot work"
            );
        }
    }
    assert!(model.len() > 30, "suspiciously few typed members: {model:?}");
    let ours: BTreeMap<String, Kind> = Schema::CLOUDWATCH
        .members()
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), *kind))
        .collect();
    assert_eq!(ours, model);
}

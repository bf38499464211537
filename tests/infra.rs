//! Cross-checks of the Terraform module (`infra/modules/trailwatch`) with the code it
//! deploys. Everything the functions depend on is derived from the code, not restated:
//!
//! - IAM: every AWS operation the functions call (scanned from their sources) is granted
//!   to that function's role, and nothing else is, apart from a short commented list of
//!   what the Lambda service itself does with the role. No `*` action; `*` resources only
//!   for actions AWS cannot scope.
//! - Environment: every `ENV_*` variable the code reads is set on each function, and every
//!   `TRAILWATCH_*` variable set is one the code reads.
//! - Metrics: every metric, dimension set and dimension value an alarm or the dashboard
//!   uses is one `metrics.rs` emits, in the namespace variable whose default is the code's.
//! - Configuration: the TOML template renders what the engine parses (round trip of
//!   `samples/trailwatch.toml`, and the example's inputs).
//!
//! The Terraform is parsed with `hcl-rs`; `local.*` references are followed, and
//! expressions that only need variables (defaults or the example's inputs) are evaluated.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::expr::{Expression, ObjectKey, TemplateExpr, TraversalOperator};
use hcl::{Block, Body, Value};
use regex::Regex;

const MODULE: &str = "infra/modules/trailwatch";
const EXAMPLE: &str = "infra/examples/complete";

/// SDK operation (as called on a client) -> the IAM action that authorizes it. An
/// operation found in the code and missing here fails `operation_map_covers_the_code`.
const OPERATION_ACTIONS: &[(&str, &str)] = &[
    ("get_object", "s3:GetObject"),
    // PublishBatch has no IAM action of its own: it is authorized as sns:Publish.
    ("publish_batch", "sns:Publish"),
    ("put_metric_data", "cloudwatch:PutMetricData"),
    ("get_item", "dynamodb:GetItem"),
    ("put_item", "dynamodb:PutItem"),
    ("update_item", "dynamodb:UpdateItem"),
    ("batch_get_item", "dynamodb:BatchGetItem"),
    ("batch_write_item", "dynamodb:BatchWriteItem"),
    ("get_parameter", "ssm:GetParameter"),
];

/// Actions the code can call but only through a configuration location the module does
/// not use: `load_config` (services.rs) calls SSM GetParameter for `ssm:/name` locations.
/// The module delivers the configuration as an S3 object, so granting SSM would be unused
/// privilege; `configuration_is_delivered_from_s3` checks that TRAILWATCH_CONFIG is an
/// `s3://` location, which is what makes leaving these out correct.
const UNUSED_CONFIG_MODE_ACTIONS: &[&str] = &["ssm:GetParameter"];

/// What the Lambda service (not the function's code) does with a function's role.
fn lambda_service_actions(function: &str) -> BTreeSet<&'static str> {
    let mut actions = BTreeSet::from([
        // Lambda writes the function's stdout/stderr to its log group.
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        // SQS, SNS, DynamoDB and S3 use the module's KMS key on the caller's behalf
        // (restricted with kms:ViaService, checked below).
        "kms:Decrypt",
        "kms:GenerateDataKey",
        // Lambda's X-Ray integration, when var.enable_xray is on.
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    ]);
    match function {
        // The SQS event source mapping polls and deletes with the function's role.
        "ingest" => actions.extend([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ]),
        // Asynchronous invocations that keep failing go to the function's dead-letter queue.
        "logs" => actions.extend(["sqs:SendMessage"]),
        _ => {}
    }
    actions
}

/// Actions AWS offers no resource-level permissions for: the only ones allowed on `*`.
const NO_RESOURCE_LEVEL_ACTIONS: &[&str] = &[
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

/// AWS metrics (emitted by AWS, not by our code) the module may alarm on or chart, with
/// their dimension: a fixed list so that a typo fails.
const AWS_METRICS: &[(&str, &str, &str)] = &[
    ("AWS/Lambda", "Errors", "FunctionName"),
    ("AWS/Lambda", "Throttles", "FunctionName"),
    ("AWS/Lambda", "Invocations", "FunctionName"),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"),
    ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName"),
];

// =======================================================================================
// Tests: module structure
// =======================================================================================

#[test]
fn module_follows_the_standard_structure() {
    let tf = Module::load();
    let mut problems = Vec::new();
    for file in [
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "iam.tf",
        "alarms.tf",
        "dashboard.tf",
    ] {
        if !tf.dir.join(file).exists() {
            problems.push(format!("{MODULE}/{file} is missing"));
        }
    }
    for v in tf.blocks_of("variable") {
        let name = label(v, 0);
        if attr(v.body(), "type").is_none() {
            problems.push(format!("variable {name} has no type"));
        }
        if attr(v.body(), "description").is_none_or(|d| text(d).trim().is_empty()) {
            problems.push(format!("variable {name} has no description"));
        }
    }
    for o in tf.blocks_of("output") {
        let name = label(o, 0);
        if !name.starts_with("trailwatch_") {
            problems.push(format!("output {name} is not prefixed trailwatch_"));
        }
        if attr(o.body(), "description").is_none_or(|d| text(d).trim().is_empty()) {
            problems.push(format!("output {name} has no description"));
        }
    }
    report(problems);
}

// =======================================================================================
// Tests: IAM
// =======================================================================================

#[test]
fn operation_map_covers_the_code() {
    let code = Code::load();
    let mapped: BTreeSet<&str> = OPERATION_ACTIONS.iter().map(|(op, _)| *op).collect();
    let mut problems = Vec::new();
    for (function, ops) in &code.operations {
        for (op, file) in ops {
            if !mapped.contains(op.as_str()) {
                problems.push(format!(
                    "{function}: `.{op}()` ({file}) is an SDK operation with no IAM action in OPERATION_ACTIONS"
                ));
            }
        }
    }
    assert!(
        !code.operations.is_empty(),
        "no function crates found under functions/"
    );
    assert!(
        code.operations.values().any(|ops| !ops.is_empty()),
        "the scan found no SDK operation at all: is it broken?"
    );
    report(problems);
}

#[test]
fn roles_grant_exactly_what_the_code_calls() {
    let code = Code::load();
    let tf = Module::load();
    let mut problems = Vec::new();
    for function in code.operations.keys() {
        let Some(role) = tf.function_role(function) else {
            problems.push(format!(
                "aws_lambda_function.{function} has no role = aws_iam_role.<name>.arn"
            ));
            continue;
        };
        let statements = tf.role_statements(&role, &mut problems);
        let granted: BTreeSet<String> = statements
            .iter()
            .filter(|s| s.effect == "Allow")
            .flat_map(|s| s.actions.iter().cloned())
            .collect();
        let required: BTreeSet<String> = code
            .required_actions(function)
            .into_iter()
            .filter(|a| !UNUSED_CONFIG_MODE_ACTIONS.contains(&a.as_str()))
            .collect();
        let service = lambda_service_actions(function);
        for action in required.difference(&granted) {
            let ops = code.operations_for(function, action);
            problems.push(format!(
                "{function}: the code calls {ops} but role {role} is not granted {action}"
            ));
        }
        for action in &granted {
            if UNUSED_CONFIG_MODE_ACTIONS.contains(&action.as_str()) {
                problems.push(format!(
                    "{function}: role {role} is granted {action}, only reachable through a TRAILWATCH_CONFIG \
                     location the module does not use"
                ));
            } else if !required.contains(action) && !service.contains(action.as_str()) {
                problems.push(format!(
                    "{function}: role {role} is granted {action}, which neither the code nor the Lambda service uses"
                ));
            }
        }
    }
    report(problems);
}

#[test]
fn statements_are_scoped() {
    let code = Code::load();
    let tf = Module::load();
    let mut problems = Vec::new();
    for function in code.operations.keys() {
        let Some(role) = tf.function_role(function) else {
            continue;
        };
        for s in tf.role_statements(&role, &mut problems) {
            let at = format!("{function}: {} statement {:?}", s.document, s.sid);
            if s.effect != "Allow" {
                continue;
            }
            for action in &s.actions {
                if action.contains('*') {
                    problems.push(format!("{at}: wildcard action {action}"));
                }
            }
            if s.resources.iter().any(|r| r == "*") {
                for action in &s.actions {
                    if !NO_RESOURCE_LEVEL_ACTIONS.contains(&action.as_str()) {
                        problems.push(format!(
                            "{at}: {action} on resource \"*\" (it supports resource-level permissions)"
                        ));
                    }
                }
            }
            if s.resources.is_empty() {
                problems.push(format!("{at}: no resources"));
            }
            if s.actions.iter().any(|a| a == "cloudwatch:PutMetricData")
                && !s.has_condition("cloudwatch:namespace", "var.metrics_namespace")
            {
                problems.push(format!(
                    "{at}: PutMetricData without a cloudwatch:namespace = var.metrics_namespace condition"
                ));
            }
            if s.actions.iter().any(|a| a.starts_with("kms:")) && !s.has_condition("kms:ViaService", "") {
                problems.push(format!(
                    "{at}: KMS use not restricted to a service (kms:ViaService)"
                ));
            }
        }
    }
    report(problems);
}

#[test]
fn configuration_is_delivered_from_s3() {
    let code = Code::load();
    let tf = Module::load();
    let mut problems = Vec::new();
    for function in code.operations.keys() {
        let env = tf.function_environment(function);
        let Some(location) = env.get("TRAILWATCH_CONFIG") else {
            problems.push(format!("{function}: TRAILWATCH_CONFIG is not set"));
            continue;
        };
        let location = text(&tf.resolve(location));
        if !location.starts_with("s3://") || !location.contains("aws_s3_object.config.key") {
            problems.push(format!(
                "{function}: TRAILWATCH_CONFIG = {location:?}, expected s3://<bucket>/${{aws_s3_object.config.key}} \
                 (UNUSED_CONFIG_MODE_ACTIONS relies on it)"
            ));
        }
        // s3:GetObject on exactly that object.
        let Some(role) = tf.function_role(function) else {
            continue;
        };
        let reads_config = tf.role_statements(&role, &mut problems).iter().any(|s| {
            s.effect == "Allow"
                && s.actions.iter().any(|a| a == "s3:GetObject")
                && s.resources.iter().any(|r| {
                    r.ends_with("/${aws_s3_object.config.key}") && r.contains("aws_s3_bucket.config.arn")
                })
        });
        if !reads_config {
            problems.push(format!(
                "{function}: no s3:GetObject on exactly the configuration object"
            ));
        }
    }
    report(problems);
}

// =======================================================================================
// Tests: functions and their environment
// =======================================================================================

#[test]
fn functions_run_the_packages_make_package_builds() {
    let code = Code::load();
    let tf = Module::load();
    let mut problems = Vec::new();
    let deployed: BTreeSet<String> = tf.resources("aws_lambda_function").map(|b| label(b, 1)).collect();
    let built: BTreeSet<String> = code.operations.keys().cloned().collect();
    if deployed != built {
        problems.push(format!(
            "function crates {built:?} but aws_lambda_function resources {deployed:?}"
        ));
    }
    for function in &built {
        let Some(f) = tf.resource("aws_lambda_function", function) else {
            continue;
        };
        let body = f.body();
        let expect = |key: &str, want: &str, problems: &mut Vec<String>| {
            let got = attr(body, key).map(|e| text(&tf.resolve(e)));
            if got.as_deref() != Some(want) {
                problems.push(format!(
                    "aws_lambda_function.{function}: {key} = {got:?}, expected {want:?}"
                ));
            }
        };
        expect("runtime", "provided.al2023", &mut problems);
        expect("handler", "bootstrap", &mut problems);
        let arch = attr(body, "architectures").map(|e| strings(&tf.resolve(e)));
        if arch != Some(vec!["arm64".to_string()]) {
            problems.push(format!(
                "aws_lambda_function.{function}: architectures = {arch:?}, expected [\"arm64\"]"
            ));
        }
        // filename = var.<x>, whose default is cargo lambda's zip of this crate.
        let zip = format!("target/lambda/trailwatch-{function}/bootstrap.zip");
        let default = attr(body, "filename")
            .and_then(var_name)
            .and_then(|v| tf.variable_default(&v))
            .and_then(|v| v.as_str().map(str::to_string));
        if !default.as_deref().is_some_and(|d| d.ends_with(&zip)) {
            problems.push(format!(
                "aws_lambda_function.{function}: filename should be a variable defaulting to …/{zip}, got {default:?}"
            ));
        }
        if attr(body, "reserved_concurrent_executions").is_none() {
            problems.push(format!(
                "aws_lambda_function.{function}: no reserved_concurrent_executions"
            ));
        }
        let log_group = body
            .blocks()
            .find(|b| b.identifier() == "logging_config")
            .and_then(|b| attr(b.body(), "log_group"));
        if !log_group.is_some_and(|e| {
            references(e)
                .iter()
                .any(|r| r.starts_with("aws_cloudwatch_log_group."))
        }) {
            problems.push(format!(
                "aws_lambda_function.{function}: no logging_config naming its log group"
            ));
        }
    }
    report(problems);
}

#[test]
fn environment_carries_every_variable_the_code_reads() {
    let code = Code::load();
    let tf = Module::load();
    assert!(
        !code.env_vars.is_empty(),
        "no `pub const ENV_*` found in services.rs"
    );
    let mut problems = Vec::new();
    for function in code.operations.keys() {
        let env = tf.function_environment(function);
        for var in &code.env_vars {
            if !env.contains_key(var) {
                problems.push(format!(
                    "{function}: the code reads {var} but aws_lambda_function.{function} does not set it"
                ));
            }
        }
        for var in env.keys() {
            if var.starts_with("TRAILWATCH_") && !code.env_vars.contains(var) {
                problems.push(format!("{function}: sets {var}, which the code never reads"));
            }
        }
    }
    report(problems);
}

// =======================================================================================
// Tests: ingest trigger
// =======================================================================================

#[test]
fn ingest_queue_is_bounded_and_reports_item_failures() {
    let tf = Module::load();
    let vars = tf.vars(BTreeMap::new());
    let mut problems = Vec::new();

    let Some(mapping) = tf.resource("aws_lambda_event_source_mapping", "ingest") else {
        panic!("no aws_lambda_event_source_mapping.ingest");
    };
    let m = mapping.body();
    let responses = attr(m, "function_response_types").map(|e| strings(&tf.resolve(e)));
    if responses != Some(vec!["ReportBatchItemFailures".to_string()]) {
        problems.push(format!(
            "event source mapping: function_response_types = {responses:?}"
        ));
    }
    let scaling = m.blocks().find(|b| b.identifier() == "scaling_config");
    if scaling
        .and_then(|b| attr(b.body(), "maximum_concurrency"))
        .is_none()
    {
        problems.push("event source mapping: no scaling_config.maximum_concurrency".into());
    }
    if !references(attr(m, "function_name").unwrap())
        .iter()
        .any(|r| r.starts_with("aws_lambda_function.ingest"))
    {
        problems.push("event source mapping does not invoke aws_lambda_function.ingest".into());
    }

    let queue = tf
        .resource("aws_sqs_queue", "ingest")
        .expect("aws_sqs_queue.ingest")
        .body();
    let function = tf.resource("aws_lambda_function", "ingest").unwrap().body();
    let visibility = tf.eval_number(attr(queue, "visibility_timeout_seconds").unwrap(), &vars);
    let timeout = tf.eval_number(attr(function, "timeout").unwrap(), &vars);
    if visibility < 6.0 * timeout {
        problems.push(format!(
            "queue visibility timeout {visibility} s < 6 x function timeout {timeout} s"
        ));
    }
    if attr(queue, "kms_master_key_id").is_none() {
        problems.push("aws_sqs_queue.ingest is not KMS-encrypted".into());
    }
    let redrive = attr(queue, "redrive_policy").map(references).unwrap_or_default();
    if !redrive.iter().any(|r| r.starts_with("aws_sqs_queue.")) {
        problems.push("aws_sqs_queue.ingest has no redrive_policy to a dead-letter queue".into());
    }
    report(problems);
}

// =======================================================================================
// Tests: state table
// =======================================================================================

#[test]
fn state_table_expires_items_by_the_attribute_the_store_writes() {
    let src = read(&root().join("functions/trailwatch-aws/src/dynamo.rs"));
    let attribute = Regex::new(r#"pub const TTL: &str = "([^"]+)";"#)
        .unwrap()
        .captures(&src)
        .map(|c| c[1].to_string())
        .expect("dynamo.rs declares its TTL attribute");
    let tf = Module::load();
    let table = tf
        .resource("aws_dynamodb_table", "state")
        .expect("the state table");
    let ttl = table
        .body()
        .blocks()
        .find(|b| b.identifier() == "ttl")
        .expect("the state table has a ttl block");
    assert_eq!(attr(ttl.body(), "attribute_name").map(text), Some(attribute));
    assert_eq!(attr(ttl.body(), "enabled"), Some(&Expression::Bool(true)));
}

// =======================================================================================
// Tests: metrics
// =======================================================================================

#[test]
fn metrics_namespace_default_is_the_codes() {
    let code = Code::load();
    let tf = Module::load();
    let default = tf.variable_default("metrics_namespace");
    assert_eq!(
        default,
        Some(Value::from(code.default_namespace.clone())),
        "variable metrics_namespace must default to the code's default namespace"
    );
}

#[test]
fn alarms_use_metrics_the_code_emits() {
    let code = Code::load();
    let tf = Module::load();
    let vars = tf.vars(BTreeMap::new());
    let mut problems = Vec::new();
    let mut alarms = Vec::new();
    for alarm in tf.resources("aws_cloudwatch_metric_alarm") {
        let at = format!("aws_cloudwatch_metric_alarm.{}", label(alarm, 1));
        let body = alarm.body();
        if body.blocks().any(|b| b.identifier() == "metric_query") {
            problems.push(format!(
                "{at}: metric_query alarms are not checked by this test; use metric_name"
            ));
            continue;
        }
        let namespace = attr(body, "namespace").map(|e| tf.resolve(e));
        let metric = attr(body, "metric_name")
            .map(|e| text(&tf.resolve(e)))
            .unwrap_or_default();
        let dims: BTreeMap<String, Expression> = attr(body, "dimensions")
            .map(|e| object_entries(&tf.resolve(e)))
            .unwrap_or_default();
        let Some(namespace) = namespace else {
            problems.push(format!("{at}: no namespace"));
            continue;
        };
        code.check_metric(&at, &namespace, &metric, &dims, &mut problems);

        let actions = attr(body, "alarm_actions")
            .map(|e| tf.references_deep(e))
            .unwrap_or_default();
        if !actions.iter().any(|r| r.starts_with("aws_sns_topic.alerts")) {
            problems.push(format!("{at}: alarm_actions do not include the alert topic"));
        }
        if !actions.iter().any(|r| r == "var.extra_alarm_actions") {
            problems.push(format!(
                "{at}: alarm_actions do not include var.extra_alarm_actions"
            ));
        }
        let number = |key: &str| attr(body, key).map(|e| tf.eval_number(e, &vars));
        let string = |key: &str| attr(body, key).map(|e| text(&tf.resolve(e)));
        alarms.push(Alarm {
            namespace: text(&namespace),
            metric,
            dims: dims.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            statistic: string("statistic"),
            period: number("period"),
            threshold: number("threshold"),
            comparison: string("comparison_operator"),
        });
    }

    // The alarms the issue asks for.
    let ns = "var.metrics_namespace";
    let gt = Some("GreaterThanThreshold");
    let required: &[WantedAlarm] = &[
        // The guide's: more than 5 failed IRSA exchanges in 300 s.
        (ns, "IrsaAssumeFailures", &[], "Sum", Some(300.0), Some(5.0)),
        (ns, "PodIdentityFailures", &[], "Sum", Some(300.0), None),
        (ns, "Alerts", &[("Severity", "critical")], "Sum", None, Some(0.0)),
        (ns, "BadRecords", &[], "Sum", None, Some(0.0)),
        (ns, "PublishFailures", &[], "Sum", None, Some(0.0)),
        (ns, "LagSeconds", &[], "Maximum", None, Some(3600.0)),
        (
            "AWS/Lambda",
            "Errors",
            &[("FunctionName", "")],
            "Sum",
            None,
            Some(0.0),
        ),
        (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            &[("QueueName", "")],
            "Maximum",
            None,
            Some(0.0),
        ),
    ];
    for (namespace, metric, dims, statistic, period, threshold) in required {
        let found = alarms.iter().any(|a| {
            a.namespace == *namespace
                && a.metric == *metric
                && a.dims.len() == dims.len()
                && dims
                    .iter()
                    .all(|(k, v)| a.dims.get(*k).is_some_and(|got| v.is_empty() || got == v))
                && a.statistic.as_deref() == Some(*statistic)
                && period.is_none_or(|p| a.period == Some(p))
                && threshold.is_none_or(|t| a.threshold == Some(t))
                && a.comparison.as_deref() == gt
        });
        if !found {
            problems.push(format!(
                "no alarm {namespace} {metric} {dims:?} {statistic} period {period:?} > {threshold:?}"
            ));
        }
    }
    report(problems);
}

#[test]
fn dashboard_uses_metrics_the_code_emits() {
    let code = Code::load();
    let tf = Module::load();
    let mut problems = Vec::new();
    let dashboard = tf
        .resources("aws_cloudwatch_dashboard")
        .next()
        .expect("no aws_cloudwatch_dashboard");
    let body = tf.resolve(attr(dashboard.body(), "dashboard_body").expect("no dashboard_body"));
    let Expression::FuncCall(call) = &body else {
        panic!("dashboard_body should be jsonencode({{...}})");
    };
    assert_eq!(
        call.name.name.as_str(),
        "jsonencode",
        "dashboard_body should be jsonencode({{...}})"
    );

    let mut charted: BTreeSet<(String, BTreeSet<String>)> = BTreeSet::new();
    for metrics in tf.find_key(&call.args[0], "metrics") {
        let Expression::Array(rows) = metrics else {
            problems.push("dashboard: `metrics` is not an array".into());
            continue;
        };
        for row in rows {
            let Expression::Array(row) = tf.resolve(&row) else {
                problems.push(format!("dashboard: metrics row {} is not an array", text(&row)));
                continue;
            };
            match row.first().map(|e| tf.resolve(e)) {
                // [{ expression = "SEARCH(...)" }]
                Some(Expression::Object(o)) => {
                    let Some(expr) = o
                        .iter()
                        .find(|(k, _)| key_text(k) == "expression")
                        .map(|(_, v)| tf.resolve(v))
                    else {
                        problems
                            .push("dashboard: metrics row with neither a metric nor an expression".into());
                        continue;
                    };
                    for (metric, dims) in code.check_search(&text(&expr), &mut problems) {
                        charted.insert((metric, dims));
                    }
                }
                // [namespace, metric, dim, value, ..., { options }]
                Some(_) if row.len() < 2 => {
                    problems.push(format!("dashboard: metrics row {row:?} has no metric"))
                }
                Some(namespace) => {
                    let metric = row.get(1).map(|e| text(&tf.resolve(e))).unwrap_or_default();
                    let rest: Vec<&Expression> = row[2..]
                        .iter()
                        .take_while(|e| !matches!(e, Expression::Object(_)))
                        .collect();
                    if !rest.len().is_multiple_of(2) || rest.iter().any(|e| text(e) == ".") {
                        problems.push(format!(
                            "dashboard: {metric}: dimensions must be explicit name/value pairs"
                        ));
                        continue;
                    }
                    let dims: BTreeMap<String, Expression> = rest
                        .chunks(2)
                        .map(|p| (text(&tf.resolve(p[0])), tf.resolve(p[1])))
                        .collect();
                    code.check_metric(
                        &format!("dashboard {metric}"),
                        &namespace,
                        &metric,
                        &dims,
                        &mut problems,
                    );
                    if text(&namespace) == "var.metrics_namespace" {
                        charted.insert((metric, dims.keys().cloned().collect()));
                    }
                }
                None => problems.push("dashboard: empty metrics row".into()),
            }
        }
    }

    // What the issue asks the dashboard to show.
    let dims = |d: &[&str]| d.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    for (metric, d) in [
        ("IrsaAssumeFailures", dims(&["Cluster", "ErrorCode"])),
        ("Findings", dims(&["Detection"])),
        ("Records", dims(&[])),
        ("Bytes", dims(&[])),
        ("LagSeconds", dims(&[])),
    ] {
        if !charted.contains(&(metric.to_string(), d.clone())) {
            problems.push(format!("dashboard: no graph of {metric} by {d:?}"));
        }
    }
    report(problems);
}

// =======================================================================================
// Tests: the configuration template
// =======================================================================================

#[test]
fn config_template_round_trips_the_sample() {
    let tf = Module::load();
    let sample_text = read(&root().join("samples/trailwatch.toml"));
    let sample: toml::Table = sample_text.parse().expect("samples/trailwatch.toml");

    // The sample as module inputs: the typed variables take what they mirror, the rest
    // of the tables goes through extra_config.
    let mut inputs = BTreeMap::new();
    let mut extra = toml::Table::new();
    for (key, value) in sample {
        match key.as_str() {
            "trusted_accounts" | "clusters" | "bindings" => {
                inputs.insert(key, hcl::to_value(&value).unwrap());
            }
            "metrics" => {
                let t = value.as_table().expect("[metrics]");
                for (k, v) in t {
                    inputs.insert(format!("metrics_{k}"), hcl::to_value(v).unwrap());
                }
            }
            _ => {
                extra.insert(key, value);
            }
        }
    }
    inputs.insert(
        "extra_config".into(),
        Value::from(toml::to_string(&extra).unwrap()),
    );

    let rendered = tf.render_config(&tf.vars(inputs));
    let from_module = trailwatch::Config::from_toml(&rendered)
        .unwrap_or_else(|e| panic!("rendered configuration does not parse: {e}\n{rendered}"));
    let from_sample = trailwatch::Config::from_toml(&sample_text).unwrap();
    assert_eq!(
        format!("{from_module:#?}"),
        format!("{from_sample:#?}"),
        "the module renders samples/trailwatch.toml's values into a different configuration:\n{rendered}"
    );
}

#[test]
fn example_renders_a_valid_configuration() {
    let tf = Module::load();
    let example = parse_dir(&root().join(EXAMPLE));
    let call = example
        .iter()
        .find(|b| {
            b.identifier() == "module"
                && attr(b.body(), "source").is_some_and(|s| text(s).ends_with("modules/trailwatch"))
        })
        .expect("the example calls ../../modules/trailwatch");
    let variables: BTreeSet<String> = tf.blocks_of("variable").map(|b| label(b, 0)).collect();
    let mut inputs = BTreeMap::new();
    let mut problems = Vec::new();
    for a in call.body().attributes() {
        if a.key() == "source" {
            continue;
        }
        if !variables.contains(a.key()) {
            problems.push(format!(
                "the example passes {}, which the module does not declare",
                a.key()
            ));
            continue;
        }
        // Inputs computed from the example's own variables (paths, e-mail) are not
        // configuration; the configuration inputs are literals and must evaluate.
        if let Ok(v) = a.expr().evaluate(&Context::new()) {
            inputs.insert(a.key().to_string(), v);
        }
    }
    report(problems);
    for key in ["clusters", "bindings", "trusted_accounts"] {
        assert!(
            inputs.contains_key(key),
            "the example should pass {key} as a literal"
        );
    }
    let rendered = tf.render_config(&tf.vars(inputs));
    let config = trailwatch::Config::from_toml(&rendered)
        .unwrap_or_else(|e| panic!("the example's configuration does not parse: {e}\n{rendered}"));
    let inventory = trailwatch::Inventory::new(config)
        .unwrap_or_else(|e| panic!("the example's configuration is invalid: {e}\n{rendered}"));
    assert!(
        inventory.clusters.iter().any(|c| c.name == "prod"),
        "the example configures cluster prod"
    );
    assert_eq!(
        inventory.bindings.len(),
        3,
        "the example binds three service accounts"
    );
}

// =======================================================================================
// Tests of the scanner itself
// =======================================================================================

#[test]
fn operation_scan_follows_builder_chains() {
    let src = r#"
        let a = self.client.get_item().table_name(&t).key("pk", s(key)).send();
        let b = client
            .put_item()
            .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
            .item("v", AttributeValue::B(value.to_vec().into()))
            .send()
            .await;
        let c = items.iter().map(|x| x.to_string()).collect();
        let d = out.body.collect().await;
    "#;
    let (ops, unattributed) = sdk_operations(src);
    assert_eq!(ops, vec!["get_item", "put_item"]);
    assert_eq!(unattributed, 0);
    let (_, unattributed) = sdk_operations("let r = client.get_item(); r.key(k).send().await;");
    assert_eq!(
        unattributed, 1,
        "a .send() whose operation is elsewhere must be reported"
    );
}

// =======================================================================================
// What the code says
// =======================================================================================

struct Code {
    /// Function (Terraform label: `trailwatch-ingest` -> `ingest`) -> (SDK operation, file).
    operations: BTreeMap<String, Vec<(String, String)>>,
    /// Environment variables read (`pub const ENV_*: &str = "..."`).
    env_vars: BTreeSet<String>,
    /// Metric name -> the dimension sets it is emitted with.
    metrics: BTreeMap<String, BTreeSet<BTreeSet<String>>>,
    /// `[metrics] namespace` when the configuration does not set it.
    default_namespace: String,
}

impl Code {
    fn load() -> Self {
        let functions = root().join("functions");
        let shared = functions.join("trailwatch-aws");
        let mut operations = BTreeMap::new();
        let mut problems = Vec::new();
        for entry in std::fs::read_dir(&functions).unwrap() {
            let dir = entry.unwrap().path();
            let crate_name = dir.file_name().unwrap().to_string_lossy().to_string();
            let Some(function) = crate_name.strip_prefix("trailwatch-") else {
                continue;
            };
            if !dir.join("src/main.rs").exists() {
                continue; // a library, not a function
            }
            let mut sources = rust_files(&dir.join("src"));
            if read(&dir.join("Cargo.toml")).contains("trailwatch-aws") {
                sources.extend(rust_files(&shared.join("src")));
            }
            let mut ops = Vec::new();
            for file in sources {
                let (found, unattributed) = sdk_operations(&without_tests(&read(&file)));
                let name = file.strip_prefix(root()).unwrap().display().to_string();
                if unattributed > 0 {
                    problems.push(format!(
                        "{name}: {unattributed} `.send()` call(s) not reached from a `client.operation()` chain: \
                         the scan cannot tell which API they call"
                    ));
                }
                ops.extend(found.into_iter().map(|op| (op, name.clone())));
            }
            operations.insert(function.to_string(), ops);
        }
        report(problems);

        let services = without_tests(&read(&shared.join("src/services.rs")));
        let env_re = Regex::new(r#"pub const ENV_\w+: &str = "([A-Za-z0-9_]+)";"#).unwrap();
        let env_vars = env_re
            .captures_iter(&services)
            .map(|c| c[1].to_string())
            .collect();

        let metrics_rs = without_tests(&read(&shared.join("src/metrics.rs")));
        let names_mod = Regex::new(r"(?s)pub mod names \{(.*?)\n\}").unwrap();
        let names_src = names_mod
            .captures(&metrics_rs)
            .expect("metrics.rs: pub mod names { ... }")[1]
            .to_string();
        let const_re = Regex::new(r#"pub const (\w+): &str = "(\w+)";"#).unwrap();
        let names: BTreeMap<String, String> = const_re
            .captures_iter(&names_src)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect();
        assert!(!names.is_empty(), "metrics.rs: no metric names in `mod names`");
        // self.add(NAME | names::NAME, vec![("Dim", …), …], …), add_ones(…) and add_set(…)
        let add_re =
            Regex::new(r"(?s)\.add(?:_set|_ones)?\(\s*(?:names::)?([A-Z_]+)\s*,\s*vec!\[(.*?)\]").unwrap();
        let dim_re = Regex::new(r#"\(\s*"(\w+)"\s*,"#).unwrap();
        let mut metrics: BTreeMap<String, BTreeSet<BTreeSet<String>>> = BTreeMap::new();
        for c in add_re.captures_iter(&metrics_rs) {
            let name = names
                .get(&c[1])
                .unwrap_or_else(|| panic!("metrics.rs adds {}, which is not in `mod names`", &c[1]));
            let dims = dim_re.captures_iter(&c[2]).map(|d| d[1].to_string()).collect();
            metrics.entry(name.clone()).or_default().insert(dims);
        }
        assert!(
            !metrics.is_empty(),
            "metrics.rs: no `.add(NAME, vec![...])` calls found"
        );

        let config_rs = read(&root().join("src/config.rs"));
        let ns_re = Regex::new(r#"fn default_namespace\(\) -> String \{\s*"([^"]+)""#).unwrap();
        let default_namespace = ns_re
            .captures(&config_rs)
            .expect("src/config.rs: fn default_namespace")[1]
            .to_string();

        Code {
            operations,
            env_vars,
            metrics,
            default_namespace,
        }
    }

    fn required_actions(&self, function: &str) -> BTreeSet<String> {
        self.operations[function]
            .iter()
            .filter_map(|(op, _)| action_of(op))
            .map(str::to_string)
            .collect()
    }

    fn operations_for(&self, function: &str, action: &str) -> String {
        let ops: BTreeSet<String> = self.operations[function]
            .iter()
            .filter(|(op, _)| action_of(op) == Some(action))
            .map(|(op, file)| format!("{op} ({file})"))
            .collect();
        ops.into_iter().collect::<Vec<_>>().join(", ")
    }

    /// A metric (namespace expression, name, dimensions) is one the code or AWS emits.
    fn check_metric(
        &self,
        at: &str,
        namespace: &Expression,
        metric: &str,
        dims: &BTreeMap<String, Expression>,
        problems: &mut Vec<String>,
    ) {
        let namespace = text(namespace);
        let names: BTreeSet<String> = dims.keys().cloned().collect();
        if namespace == "var.metrics_namespace" {
            self.check_custom(at, metric, &names, problems);
            for (dim, value) in dims {
                check_dimension_value(at, dim, value, problems);
            }
        } else if namespace.starts_with("AWS/") {
            let known = AWS_METRICS.iter().any(|(ns, m, d)| {
                *ns == namespace && *m == metric && names == BTreeSet::from([d.to_string()])
            });
            if !known {
                problems.push(format!(
                    "{at}: {namespace} {metric} {names:?} is not in AWS_METRICS"
                ));
            }
        } else {
            problems.push(format!(
                "{at}: namespace {namespace} is neither var.metrics_namespace nor an AWS/ namespace"
            ));
        }
    }

    fn check_custom(&self, at: &str, metric: &str, dims: &BTreeSet<String>, problems: &mut Vec<String>) {
        match self.metrics.get(metric) {
            None => problems.push(format!(
                "{at}: the code emits no metric {metric:?} (it emits {:?})",
                self.metrics.keys().collect::<Vec<_>>()
            )),
            Some(sets) if !sets.contains(dims) => problems.push(format!(
                "{at}: the code emits {metric} with dimensions {sets:?}, not {dims:?}"
            )),
            Some(_) => {}
        }
    }

    /// Checks the metric schemas of a SEARCH expression; returns (metric, dimensions).
    fn check_search(&self, expr: &str, problems: &mut Vec<String>) -> Vec<(String, BTreeSet<String>)> {
        // The schema may contain an interpolation: {"${var.metrics_namespace}",Dim}.
        let search = Regex::new(r#"\{((?:\$\{[^}]*\}|[^{}])*)\}\s*MetricName\s*=\s*\\?"(\w+)\\?""#).unwrap();
        let mut found = Vec::new();
        for c in search.captures_iter(expr) {
            let mut schema = c[1]
                .split(',')
                .map(|s| s.trim().trim_matches(|ch| ch == '\\' || ch == '"'));
            let namespace = schema.next().unwrap_or_default();
            let dims: BTreeSet<String> = schema.map(str::to_string).collect();
            let at = format!("dashboard SEARCH {:?}", &c[0]);
            if namespace != "${var.metrics_namespace}" {
                problems.push(format!(
                    "{at}: namespace {namespace:?} is not ${{var.metrics_namespace}}"
                ));
            }
            self.check_custom(&at, &c[2], &dims, problems);
            found.push((c[2].to_string(), dims));
        }
        if found.is_empty() {
            problems.push(format!(
                "dashboard: expression {expr:?} has no SEARCH schema with a MetricName"
            ));
        }
        found
    }
}

/// Literal dimension values must be values the code can emit.
fn check_dimension_value(at: &str, dim: &str, value: &Expression, problems: &mut Vec<String>) {
    let Expression::String(value) = value else { return };
    let allowed: Vec<&str> = match dim {
        "Severity" => trailwatch::Severity::ALL.iter().map(|s| s.as_str()).collect(),
        "Detection" => trailwatch::detect::STATEFUL
            .iter()
            .chain(trailwatch::detect::STATELESS.iter())
            .copied()
            .collect(),
        _ => return,
    };
    if !allowed.contains(&value.as_str()) {
        problems.push(format!(
            "{at}: {dim} = {value:?} is never emitted (values: {allowed:?})"
        ));
    }
}

fn action_of(op: &str) -> Option<&'static str> {
    OPERATION_ACTIONS.iter().find(|(o, _)| *o == op).map(|(_, a)| *a)
}

/// SDK operations called in `src`: a zero-argument method call `.op()` followed by builder
/// calls `.name(...)` up to `.send()`. Also returns how many `.send()` calls no such chain
/// reaches (an operation the scan cannot name).
fn sdk_operations(src: &str) -> (Vec<String>, usize) {
    let src: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let call = Regex::new(r"\.([a-z][a-z0-9_]*)\(\)").unwrap();
    let mut ops = Vec::new();
    let mut sends = 0usize;
    for c in call.captures_iter(&src) {
        let op = &c[1];
        if op == "send" {
            sends += 1;
        } else if chain_reaches_send(&src[c.get(0).unwrap().end()..]) {
            ops.push(op.to_string());
        }
    }
    let unattributed = sends.saturating_sub(ops.len());
    (ops, unattributed)
}

/// Whether `rest` continues with `.name(args)` calls up to `.send()`.
fn chain_reaches_send(mut rest: &str) -> bool {
    loop {
        let Some(after_dot) = rest.trim_start().strip_prefix('.') else {
            return false;
        };
        let after_dot = after_dot.trim_start();
        let len = after_dot
            .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .unwrap_or(after_dot.len());
        let (name, after_name) = after_dot.split_at(len);
        let after_name = after_name.trim_start();
        if !after_name.starts_with('(') {
            return false;
        }
        if name == "send" {
            return after_name.starts_with("()");
        }
        let Some(close) = matching_paren(after_name) else {
            return false;
        };
        rest = &after_name[close + 1..];
    }
}

/// Index of the `)` closing the `(` that `s` starts with (string literals skipped).
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    for (i, ch) in s.char_indices() {
        if in_string {
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The source without its `#[cfg(test)] mod …` (tests call APIs the functions do not),
/// which by convention closes the file.
fn without_tests(src: &str) -> String {
    let test_module = Regex::new(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{").unwrap();
    match test_module.find(src) {
        Some(m) => src[..m.start()].to_string(),
        None => src.to_string(),
    }
}

// =======================================================================================
// What the Terraform says
// =======================================================================================

struct Module {
    dir: PathBuf,
    blocks: Vec<Block>,
    locals: BTreeMap<String, Expression>,
}

#[derive(Debug)]
struct Statement {
    document: String,
    sid: Option<String>,
    effect: String,
    actions: Vec<String>,
    resources: Vec<String>,
    /// (test, variable, values as text)
    conditions: Vec<(String, String, Vec<String>)>,
}

impl Statement {
    /// A condition on `variable` whose values mention `value` ("" = any value).
    fn has_condition(&self, variable: &str, value: &str) -> bool {
        self.conditions
            .iter()
            .any(|(_, v, values)| v == variable && values.iter().any(|x| x.contains(value)))
    }
}

/// An alarm the module must have: (namespace, metric, dimensions (value "" = any),
/// statistic, period, threshold).
type WantedAlarm<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a str,
    Option<f64>,
    Option<f64>,
);

struct Alarm {
    namespace: String,
    metric: String,
    dims: BTreeMap<String, String>,
    statistic: Option<String>,
    period: Option<f64>,
    threshold: Option<f64>,
    comparison: Option<String>,
}

impl Module {
    fn load() -> Self {
        let dir = root().join(MODULE);
        let blocks = parse_dir(&dir);
        let mut locals = BTreeMap::new();
        for b in blocks.iter().filter(|b| b.identifier() == "locals") {
            for a in b.body().attributes() {
                assert!(
                    locals.insert(a.key().to_string(), a.expr().clone()).is_none(),
                    "local.{} is defined twice",
                    a.key()
                );
            }
        }
        Module { dir, blocks, locals }
    }

    fn blocks_of(&self, kind: &str) -> std::vec::IntoIter<&Block> {
        let blocks: Vec<&Block> = self.blocks.iter().filter(|b| b.identifier() == kind).collect();
        blocks.into_iter()
    }

    fn resources(&self, kind: &str) -> std::vec::IntoIter<&Block> {
        let blocks: Vec<&Block> = self
            .blocks_of("resource")
            .filter(|b| label(b, 0) == kind)
            .collect();
        blocks.into_iter()
    }

    fn resource(&self, kind: &str, name: &str) -> Option<&Block> {
        self.resources(kind).find(|b| label(b, 1) == name)
    }

    fn data(&self, kind: &str, name: &str) -> Option<&Block> {
        self.blocks_of("data")
            .find(|b| label(b, 0) == kind && label(b, 1) == name)
    }

    fn variable(&self, name: &str) -> Option<&Block> {
        self.blocks_of("variable").find(|b| label(b, 0) == name)
    }

    fn variable_default(&self, name: &str) -> Option<Value> {
        let default = attr(self.variable(name)?.body(), "default")?;
        Some(
            default
                .evaluate(&Context::new())
                .expect("variable defaults are literals"),
        )
    }

    /// `local.x` (and what it is made of, at the top) replaced by its definition.
    fn resolve(&self, expr: &Expression) -> Expression {
        if let Some(path) = traversal(expr)
            && path.len() == 2
            && path[0] == "local"
        {
            let def = self
                .locals
                .get(&path[1])
                .unwrap_or_else(|| panic!("local.{} is not defined", path[1]));
            return self.resolve(def);
        }
        expr.clone()
    }

    /// References in `expr`, following locals.
    fn references_deep(&self, expr: &Expression) -> Vec<String> {
        let mut out = Vec::new();
        for r in references(expr) {
            let path: Vec<&str> = r.split('.').collect();
            if path.len() >= 2 && path[0] == "local" {
                let name = path[1].split('[').next().unwrap();
                out.extend(self.references_deep(&self.locals[name]));
            } else {
                out.push(r);
            }
        }
        out
    }

    /// Every value of key `key` in objects anywhere inside `expr` (locals followed).
    fn find_key(&self, expr: &Expression, key: &str) -> Vec<Expression> {
        let mut out = Vec::new();
        match self.resolve(expr) {
            Expression::Object(o) => {
                for (k, v) in o.iter() {
                    if key_text(k) == key {
                        out.push(self.resolve(v));
                    } else {
                        out.extend(self.find_key(v, key));
                    }
                }
            }
            Expression::Array(a) => {
                for e in &a {
                    out.extend(self.find_key(e, key));
                }
            }
            _ => {}
        }
        out
    }

    fn function_role(&self, function: &str) -> Option<String> {
        let f = self.resource("aws_lambda_function", function)?;
        references(attr(f.body(), "role")?).into_iter().find_map(|r| {
            r.strip_prefix("aws_iam_role.")
                .map(|r| r.split('.').next().unwrap().to_string())
        })
    }

    fn function_environment(&self, function: &str) -> BTreeMap<String, Expression> {
        let Some(f) = self.resource("aws_lambda_function", function) else {
            return BTreeMap::new();
        };
        f.body()
            .blocks()
            .filter(|b| b.identifier() == "environment")
            .filter_map(|b| attr(b.body(), "variables"))
            .flat_map(|v| object_entries(&self.resolve(v)))
            .collect()
    }

    /// Every statement of every policy attached to aws_iam_role.<role>.
    fn role_statements(&self, role: &str, problems: &mut Vec<String>) -> Vec<Statement> {
        let target = format!("aws_iam_role.{role}");
        let mentions_role = |b: &&Block| {
            attr(b.body(), "role").is_some_and(|e| references(e).iter().any(|r| r.starts_with(&target)))
        };
        for kind in ["aws_iam_role_policy_attachment", "aws_iam_policy_attachment"] {
            for b in self.resources(kind).filter(mentions_role) {
                problems.push(format!(
                    "{kind}.{} attaches a managed policy to {target}: use aws_iam_policy_documents, which this test checks",
                    label(b, 1)
                ));
            }
        }
        let mut statements = Vec::new();
        for policy in self.resources("aws_iam_role_policy").filter(mentions_role) {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<String> = attr(policy.body(), "policy").map(documents).unwrap_or_default();
            if stack.is_empty() {
                problems.push(format!(
                    "aws_iam_role_policy.{}: policy is not data.aws_iam_policy_document.<name>.json",
                    label(policy, 1)
                ));
            }
            while let Some(name) = stack.pop() {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let Some(doc) = self.data("aws_iam_policy_document", &name) else {
                    problems.push(format!("data.aws_iam_policy_document.{name} is not defined"));
                    continue;
                };
                for key in ["source_policy_documents", "override_policy_documents"] {
                    if let Some(e) = attr(doc.body(), key) {
                        stack.extend(documents(e));
                    }
                }
                if attr(doc.body(), "source_json").is_some() || attr(doc.body(), "override_json").is_some() {
                    problems.push(format!(
                        "data.aws_iam_policy_document.{name}: source_json is not checked"
                    ));
                }
                statements.extend(self.statements(&name, doc.body(), problems));
            }
        }
        statements
    }

    fn statements(&self, document: &str, body: &Body, problems: &mut Vec<String>) -> Vec<Statement> {
        let mut out = Vec::new();
        for b in body.blocks() {
            let s = match (b.identifier(), b.labels().first().map(|l| l.as_str())) {
                ("statement", _) => b.body(),
                ("dynamic", Some("statement")) => {
                    match b.body().blocks().find(|c| c.identifier() == "content") {
                        Some(c) => c.body(),
                        None => continue,
                    }
                }
                _ => continue,
            };
            for forbidden in ["not_actions", "not_resources", "not_principals"] {
                if attr(s, forbidden).is_some() {
                    problems.push(format!(
                        "data.aws_iam_policy_document.{document}: {forbidden} is not checked"
                    ));
                }
            }
            let list = |key: &str| {
                attr(s, key)
                    .map(|e| match self.resolve(e) {
                        Expression::Array(a) => a.iter().map(|x| text(&self.resolve(x))).collect(),
                        other => vec![text(&other)],
                    })
                    .unwrap_or_default()
            };
            let conditions = s
                .blocks()
                .filter(|c| c.identifier() == "condition")
                .map(|c| {
                    let get = |k: &str| {
                        attr(c.body(), k)
                            .map(|e| text(&self.resolve(e)))
                            .unwrap_or_default()
                    };
                    let values = attr(c.body(), "values")
                        .map(|e| match self.resolve(e) {
                            Expression::Array(a) => a.iter().map(text).collect(),
                            other => vec![text(&other)],
                        })
                        .unwrap_or_default();
                    (get("test"), get("variable"), values)
                })
                .collect();
            out.push(Statement {
                document: document.to_string(),
                sid: attr(s, "sid").map(text),
                effect: attr(s, "effect").map(text).unwrap_or_else(|| "Allow".into()),
                actions: list("actions"),
                resources: list("resources"),
                conditions,
            });
        }
        out
    }

    /// The module's variables as Terraform sees them: `inputs` where given, else the
    /// defaults, converted to their type (optional attributes filled in).
    fn vars(&self, mut inputs: BTreeMap<String, Value>) -> Value {
        let mut out = hcl::Map::new();
        for v in self.blocks_of("variable") {
            let name = label(v, 0);
            let value = inputs
                .remove(&name)
                .or_else(|| self.variable_default(&name))
                .unwrap_or(Value::Null);
            let value = match attr(v.body(), "type") {
                Some(ty) => convert(value, ty).unwrap_or_else(|e| panic!("var.{name}: {e}")),
                None => value,
            };
            out.insert(name, value);
        }
        assert!(
            inputs.is_empty(),
            "inputs for undeclared variables: {:?}",
            inputs.keys()
        );
        Value::Object(out)
    }

    fn eval_context(&self, vars: &Value) -> Context<'static> {
        let mut ctx = Context::new();
        ctx.declare_var("var", vars.clone());
        ctx.declare_func(
            "jsonencode",
            FuncDef::builder().param(ParamType::Any).build(jsonencode),
        );
        ctx.declare_func(
            "trimspace",
            FuncDef::builder().param(ParamType::String).build(trimspace),
        );
        ctx
    }

    fn eval_number(&self, expr: &Expression, vars: &Value) -> f64 {
        let expr = self.resolve(expr);
        match expr.evaluate(&self.eval_context(vars)) {
            Ok(Value::Number(n)) => n.as_f64().unwrap(),
            other => panic!("{} does not evaluate to a number: {other:?}", text(&expr)),
        }
    }

    /// What `local.config_toml` (templatefile(<template>, {...})) renders with `vars`.
    fn render_config(&self, vars: &Value) -> String {
        let call = match self.resolve(&self.locals["config_toml"]) {
            Expression::FuncCall(c) if c.name.name.as_str() == "templatefile" => c,
            other => panic!(
                "local.config_toml should be templatefile(...), is {}",
                text(&other)
            ),
        };
        let path = text(&call.args[0]).replace("${path.module}", &self.dir.display().to_string());
        let template = hcl::Template::from_str(&read(Path::new(&path))).expect("template parses");
        let ctx = self.eval_context(vars);
        let mut template_ctx = self.eval_context(vars);
        for (key, value) in object_entries(&call.args[1]) {
            let value = value
                .evaluate(&ctx)
                .unwrap_or_else(|e| panic!("templatefile argument {key}: {e}"));
            template_ctx.declare_var(key, value);
        }
        template
            .evaluate(&template_ctx)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

/// Converts `value` to the type constraint `ty` as Terraform does for module inputs:
/// missing optional attributes become their default (or null); unknown attributes and
/// missing required ones are errors.
fn convert(value: Value, ty: &Expression) -> Result<Value, String> {
    let Expression::FuncCall(call) = ty else {
        return Ok(value);
    }; // string, number, bool, any
    let kind = call.name.name.as_str();
    match (kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        ("list" | "set", Value::Array(items)) => items
            .into_iter()
            .map(|v| convert(v, &call.args[0]))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        ("map", Value::Object(o)) => o
            .into_iter()
            .map(|(k, v)| convert(v, &call.args[0]).map(|v| (k, v)))
            .collect::<Result<_, _>>()
            .map(Value::Object),
        ("object", Value::Object(mut o)) => {
            let attrs = object_entries(&call.args[0]);
            if let Some(extra) = o.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(format!("attribute {extra:?} is not in the type"));
            }
            let mut out = hcl::Map::new();
            for (name, attr_ty) in attrs {
                let optional = match &attr_ty {
                    Expression::FuncCall(f) if f.name.name.as_str() == "optional" => Some(f),
                    _ => None,
                };
                let value = match (o.shift_remove(&name), optional) {
                    (Some(v), Some(f)) => convert(v, &f.args[0])?,
                    (Some(v), None) => convert(v, &attr_ty)?,
                    (None, Some(f)) => match f.args.get(1) {
                        Some(default) => convert(
                            default.evaluate(&Context::new()).map_err(|e| e.to_string())?,
                            &f.args[0],
                        )?,
                        None => Value::Null,
                    },
                    (None, None) => return Err(format!("required attribute {name:?} is missing")),
                };
                out.insert(name, value);
            }
            Ok(Value::Object(out))
        }
        (kind, value) => Err(format!("{value:?} is not a {kind}")),
    }
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    serde_json::to_string(&args[0])
        .map(Value::from)
        .map_err(|e| e.to_string())
}

fn trimspace(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(
        args[0].as_str().unwrap_or_default().trim().to_string(),
    ))
}

// =======================================================================================
// HCL helpers
// =======================================================================================

fn parse_dir(dir: &Path) -> Vec<Block> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .tf files in {}", dir.display());
    files
        .iter()
        .flat_map(|f| {
            let body: Body = hcl::from_str(&read(f)).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            body.into_blocks().collect::<Vec<_>>()
        })
        .collect()
}

fn label(block: &Block, i: usize) -> String {
    block
        .labels()
        .get(i)
        .map(|l| l.as_str().to_string())
        .unwrap_or_default()
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// `var.x` -> `x`.
fn var_name(expr: &Expression) -> Option<String> {
    match traversal(expr)?.as_slice() {
        [root, name] if root == "var" => Some(name.clone()),
        _ => None,
    }
}

/// `a.b["k"].c` -> ["a", "b", "c"] (indexes dropped), for traversals of a variable.
fn traversal(expr: &Expression) -> Option<Vec<String>> {
    let Expression::Traversal(t) = expr else {
        return None;
    };
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    let mut path = vec![root.as_str().to_string()];
    for op in &t.operators {
        if let TraversalOperator::GetAttr(id) = op {
            path.push(id.as_str().to_string());
        }
    }
    Some(path)
}

/// Every traversal inside `expr`, as dotted text (`aws_iam_role.ingest.arn`), including
/// the ones interpolated in templates.
fn references(expr: &Expression) -> Vec<String> {
    let mut out = Vec::new();
    collect_references(expr, &mut out);
    out
}

fn collect_references(expr: &Expression, out: &mut Vec<String>) {
    match expr {
        Expression::Traversal(t) => {
            if let Some(path) = traversal(expr) {
                out.push(path.join("."));
            } else {
                collect_references(&t.expr, out);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    collect_references(i, out);
                }
            }
        }
        Expression::Variable(v) => out.push(v.as_str().to_string()),
        Expression::Array(a) => a.iter().for_each(|e| collect_references(e, out)),
        Expression::Object(o) => o.iter().for_each(|(k, v)| {
            if let ObjectKey::Expression(k) = k {
                collect_references(k, out);
            }
            collect_references(v, out);
        }),
        Expression::FuncCall(f) => f.args.iter().for_each(|e| collect_references(e, out)),
        Expression::Parenthesis(e) => collect_references(e, out),
        Expression::Conditional(c) => {
            collect_references(&c.cond_expr, out);
            collect_references(&c.true_expr, out);
            collect_references(&c.false_expr, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => collect_references(&u.expr, out),
            hcl::expr::Operation::Binary(b) => {
                collect_references(&b.lhs_expr, out);
                collect_references(&b.rhs_expr, out);
            }
        },
        Expression::ForExpr(f) => {
            collect_references(&f.collection_expr, out);
            if let Some(k) = &f.key_expr {
                collect_references(k, out);
            }
            collect_references(&f.value_expr, out);
        }
        Expression::TemplateExpr(t) => {
            let re = Regex::new(r"\$\{\s*([A-Za-z_][\w.\-]*)").unwrap();
            out.extend(re.captures_iter(&template_text(t)).map(|c| c[1].to_string()));
        }
        _ => {}
    }
}

/// Names of the policy documents `expr` refers to (`data.aws_iam_policy_document.<name>`).
fn documents(expr: &Expression) -> Vec<String> {
    references(expr)
        .iter()
        .filter_map(|r| r.strip_prefix("data.aws_iam_policy_document."))
        .map(|r| r.split('.').next().unwrap().to_string())
        .collect()
}

fn object_entries(expr: &Expression) -> BTreeMap<String, Expression> {
    match expr {
        Expression::Object(o) => o.iter().map(|(k, v)| (key_text(k), v.clone())).collect(),
        _ => BTreeMap::new(),
    }
}

fn key_text(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.as_str().to_string(),
        ObjectKey::Expression(e) => text(e),
        other => format!("{other:?}"),
    }
}

/// Strings as themselves, templates as their raw text, anything else as HCL.
fn text(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.clone(),
        Expression::TemplateExpr(t) => template_text(t),
        other => hcl::format::to_string(other).unwrap_or_else(|_| format!("{other:?}")),
    }
}

/// The raw text of a template (`"${var.x}/y"` -> `${var.x}/y`).
fn template_text(t: &TemplateExpr) -> String {
    match t {
        TemplateExpr::QuotedString(s) => s.clone(),
        TemplateExpr::Heredoc(h) => h.template.clone(),
    }
}

fn strings(expr: &Expression) -> Vec<String> {
    match expr {
        Expression::Array(a) => a.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

// =======================================================================================
// Files and reporting
// =======================================================================================

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn report(problems: Vec<String>) {
    if problems.is_empty() {
        return;
    }
    let mut message = format!("{} problem(s):\n", problems.len());
    for p in &problems {
        let _ = writeln!(message, "  - {p}");
    }
    panic!("{message}");
}

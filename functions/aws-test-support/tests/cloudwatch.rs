//! The real `aws-sdk-cloudwatch` (Smithy RPC v2 CBOR) against moto through the CBOR gateway.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::error::ProvideErrorMetadata as _;
use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StandardUnit,
    StateValue, StatisticSet, StatusCode,
};
use trailwatch_aws_test_support::{CborGateway, sdk_config, unique_name};

async fn client() -> Client {
    Client::new(&sdk_config(CborGateway::shared().endpoint()).await)
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn sum_query(id: &str, namespace: &str, metric: &str, dimensions: &[(&str, &str)]) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(metric)
        .set_dimensions(Some(dimensions.iter().map(|(n, v)| dimension(n, v)).collect()))
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build()
}

/// The three metrics of one test, put at `now`: a single value, values with counts, and a
/// statistic set.
///
/// Each carries a `Run` dimension unique to the test: moto's GetMetricData ignores the
/// namespace of a query that has dimensions, so a unique namespace alone does not isolate
/// tests that share the server.
fn three_metrics(run: &str, now: DateTime) -> Vec<MetricDatum> {
    vec![
        MetricDatum::builder()
            .metric_name("Events")
            .dimensions(dimension("Function", "ingest"))
            .dimensions(dimension("Outcome", "ok"))
            .dimensions(dimension("Run", run))
            .value(3.0)
            .unit(StandardUnit::Count)
            .timestamp(now)
            .build(),
        MetricDatum::builder()
            .metric_name("Events")
            .dimensions(dimension("Function", "logs"))
            .dimensions(dimension("Outcome", "ok"))
            .dimensions(dimension("Run", run))
            .values(1.0)
            .counts(2.0)
            .values(2.5)
            .counts(1.0)
            .unit(StandardUnit::Count)
            .timestamp(now)
            .build(),
        MetricDatum::builder()
            .metric_name("Batches")
            .dimensions(dimension("Function", "ingest"))
            .dimensions(dimension("Run", run))
            .statistic_values(
                StatisticSet::builder()
                    .sample_count(4.0)
                    .sum(10.0)
                    .minimum(1.0)
                    .maximum(4.0)
                    .build(),
            )
            .unit(StandardUnit::Count)
            .timestamp(now)
            .build(),
    ]
}

#[tokio::test]
async fn put_metric_data_then_list_metrics_and_get_metric_data() {
    let cw = client().await;
    let namespace = unique_name("Trailwatch/Test");
    let run = unique_name("run");
    let now = SystemTime::now();

    cw.put_metric_data()
        .namespace(&namespace)
        .set_metric_data(Some(three_metrics(&run, DateTime::from(now))))
        .send()
        .await
        .expect("PutMetricData");

    let listed = cw
        .list_metrics()
        .namespace(&namespace)
        .send()
        .await
        .expect("ListMetrics");
    let metrics: BTreeSet<(String, Vec<(String, String)>)> = listed
        .metrics()
        .iter()
        .map(|m| {
            assert_eq!(m.namespace(), Some(namespace.as_str()));
            let mut dims: Vec<(String, String)> = m
                .dimensions()
                .iter()
                .map(|d| {
                    (
                        d.name().unwrap_or_default().to_owned(),
                        d.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            dims.sort();
            (m.metric_name().unwrap_or_default().to_owned(), dims)
        })
        .collect();
    let owned = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    };
    let expected: BTreeSet<(String, Vec<(String, String)>)> = [
        (
            "Events".to_owned(),
            owned(&[("Function", "ingest"), ("Outcome", "ok"), ("Run", &run)]),
        ),
        (
            "Events".to_owned(),
            owned(&[("Function", "logs"), ("Outcome", "ok"), ("Run", &run)]),
        ),
        (
            "Batches".to_owned(),
            owned(&[("Function", "ingest"), ("Run", &run)]),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(metrics, expected);

    let start = now - Duration::from_secs(600);
    let end = now + Duration::from_secs(60);
    let data = cw
        .get_metric_data()
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(end))
        .metric_data_queries(sum_query(
            "ingest",
            &namespace,
            "Events",
            &[("Function", "ingest"), ("Outcome", "ok"), ("Run", &run)],
        ))
        .metric_data_queries(sum_query(
            "logs",
            &namespace,
            "Events",
            &[("Function", "logs"), ("Outcome", "ok"), ("Run", &run)],
        ))
        .metric_data_queries(sum_query(
            "batches",
            &namespace,
            "Batches",
            &[("Function", "ingest"), ("Run", &run)],
        ))
        .send()
        .await
        .expect("GetMetricData");

    let mut sums = BTreeMap::new();
    for result in data.metric_data_results() {
        let id = result.id().expect("every result has its query's id").to_owned();
        assert_eq!(result.status_code(), Some(&StatusCode::Complete), "{id}");
        assert_eq!(result.timestamps().len(), result.values().len(), "{id}");
        assert!(!result.timestamps().is_empty(), "{id}: no datapoint");
        for t in result.timestamps() {
            let t = SystemTime::try_from(*t).expect("a timestamp in SystemTime's range");
            // moto truncates the range to whole seconds.
            assert!(
                t + Duration::from_secs(1) >= start && t <= end,
                "{id}: timestamp {t:?} outside {start:?}..{end:?}"
            );
        }
        sums.insert(id, result.values().iter().sum::<f64>());
    }
    let expected: BTreeMap<String, f64> = [
        ("batches".to_owned(), 10.0),
        ("ingest".to_owned(), 3.0),
        ("logs".to_owned(), 1.0 * 2.0 + 2.5),
    ]
    .into_iter()
    .collect();
    assert_eq!(sums, expected);
}

#[tokio::test]
async fn get_metric_statistics_returns_datapoints() {
    let cw = client().await;
    let namespace = unique_name("Trailwatch/Stats");
    let run = unique_name("run");
    let now = SystemTime::now();
    cw.put_metric_data()
        .namespace(&namespace)
        .set_metric_data(Some(three_metrics(&run, DateTime::from(now))))
        .send()
        .await
        .expect("PutMetricData");

    let stats = cw
        .get_metric_statistics()
        .namespace(&namespace)
        .metric_name("Batches")
        .dimensions(dimension("Function", "ingest"))
        .dimensions(dimension("Run", &run))
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .period(660)
        .statistics(aws_sdk_cloudwatch::types::Statistic::Sum)
        .statistics(aws_sdk_cloudwatch::types::Statistic::SampleCount)
        .statistics(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .send()
        .await
        .expect("GetMetricStatistics");

    assert_eq!(stats.label(), Some("Batches"));
    let [point] = stats.datapoints() else {
        panic!("expected one datapoint, got {:?}", stats.datapoints());
    };
    assert_eq!(point.sum(), Some(10.0));
    assert_eq!(point.sample_count(), Some(4.0));
    assert_eq!(point.maximum(), Some(4.0));
    let t = SystemTime::try_from(point.timestamp().copied().expect("a datapoint has a timestamp")).unwrap();
    assert!(
        t <= now + Duration::from_secs(60) && t + Duration::from_secs(660) >= now,
        "{t:?}"
    );
}

#[tokio::test]
async fn put_metric_alarm_then_describe_alarms() {
    let cw = client().await;
    let namespace = unique_name("Trailwatch/Alarms");
    let alarm = unique_name("trailwatch-alarm");
    let before = SystemTime::now() - Duration::from_secs(1);
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace(&namespace)
        .metric_name("Errors")
        .dimensions(dimension("Function", "ingest"))
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(300)
        .evaluation_periods(2)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");

    let described = cw
        .describe_alarms()
        .alarm_names(&alarm)
        .send()
        .await
        .expect("DescribeAlarms");
    let [found] = described.metric_alarms() else {
        panic!("expected one alarm, got {:?}", described.metric_alarms());
    };
    assert_eq!(found.alarm_name(), Some(alarm.as_str()));
    assert_eq!(found.namespace(), Some(namespace.as_str()));
    assert_eq!(found.threshold(), Some(5.0));
    assert_eq!(found.period(), Some(300));
    assert_eq!(found.evaluation_periods(), Some(2));
    // CloudWatch starts an alarm in INSUFFICIENT_DATA, moto in OK: only check that it decodes.
    assert!(
        matches!(
            found.state_value(),
            Some(StateValue::Ok | StateValue::Alarm | StateValue::InsufficientData)
        ),
        "{:?}",
        found.state_value()
    );
    let updated = found
        .alarm_configuration_updated_timestamp()
        .copied()
        .expect("AlarmConfigurationUpdatedTimestamp");
    let updated = SystemTime::try_from(updated).unwrap();
    assert!(
        updated >= before && updated <= SystemTime::now() + Duration::from_secs(1),
        "{updated:?}"
    );
}

#[tokio::test]
async fn compressed_put_metric_data_is_inflated() {
    let gateway = CborGateway::shared();
    let conf = sdk_config(gateway.endpoint()).await;
    // Compress every PutMetricData body, however small.
    let cw = Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&conf)
            .request_min_compression_size_bytes(0)
            .build(),
    );
    let namespace = unique_name("Trailwatch/Gzip");
    let run = unique_name("run");
    let now = SystemTime::now();
    let gzipped_before = gateway.gzip_requests();
    cw.put_metric_data()
        .namespace(&namespace)
        .metric_data(
            MetricDatum::builder()
                .metric_name("Bytes")
                .dimensions(dimension("Run", &run))
                .value(42.0)
                .unit(StandardUnit::Count)
                .timestamp(DateTime::from(now))
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
    assert!(
        gateway.gzip_requests() > gzipped_before,
        "the SDK did not compress the request"
    );

    let data = cw
        .get_metric_data()
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .metric_data_queries(sum_query("bytes", &namespace, "Bytes", &[("Run", &run)]))
        .send()
        .await
        .expect("GetMetricData");
    let values: Vec<f64> = data
        .metric_data_results()
        .iter()
        .flat_map(|r| r.values().to_vec())
        .collect();
    assert_eq!(values, [42.0]);
}

#[tokio::test]
async fn modeled_error_has_the_query_error_code() {
    let cw = client().await;
    // Two values, one count: moto (like CloudWatch) refuses with InvalidParameterValue.
    let err = cw
        .put_metric_data()
        .namespace(unique_name("Trailwatch/Errors"))
        .metric_data(
            MetricDatum::builder()
                .metric_name("Mismatched")
                .values(1.0)
                .values(2.0)
                .counts(1.0)
                .unit(StandardUnit::Count)
                .build(),
        )
        .send()
        .await
        .expect_err("mismatched Values and Counts must fail");
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValue"), "{err:?}");
    let PutMetricDataError::InvalidParameterValueException(modeled) = &err else {
        panic!("expected the modeled InvalidParameterValueException, got {err:?}");
    };
    assert!(
        modeled
            .message()
            .is_some_and(|m| m.contains("must be of the same size")),
        "{modeled:?}"
    );
}

#[tokio::test]
async fn unmodeled_error_has_the_query_error_code() {
    let cw = client().await;
    let now = SystemTime::now();
    // EndTime before StartTime.
    let err = cw
        .get_metric_data()
        .start_time(DateTime::from(now))
        .end_time(DateTime::from(now - Duration::from_secs(600)))
        .metric_data_queries(sum_query("q", &unique_name("Trailwatch/Errors"), "M", &[]))
        .send()
        .await
        .expect_err("EndTime before StartTime must fail");
    let service_err = err
        .as_service_error()
        .unwrap_or_else(|| panic!("not a service error: {err:?}"));
    assert_eq!(service_err.code(), Some("ValidationError"), "{service_err:?}");
    assert!(
        service_err
            .message()
            .is_some_and(|m| m.contains("EndTime must be greater than StartTime")),
        "{service_err:?}"
    );
    let raw = err.raw_response().expect("a service error has its response");
    assert_eq!(raw.status().as_u16(), 400);
    assert_eq!(raw.headers().get("smithy-protocol"), Some("rpc-v2-cbor"));
    assert_eq!(raw.headers().get("content-type"), Some("application/cbor"));
}

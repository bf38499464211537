# One dashboard: the alarms, the identity plane (failed exchanges by cluster and error
# code, findings by detection, alerts by severity), then the pipeline (throughput, lag,
# health counters, the functions and the queues). Metric names and dimensions are the
# ones functions/trailwatch-aws/src/metrics.rs emits (tests/infra.rs checks them).
# SEARCH expressions pick up every cluster, error code and detection without listing them.

locals {
  dashboard_period = 300

  # SEARCH('{"<namespace>",Dim,...} MetricName="Name"', 'Sum', 300), quoted so that any
  # namespace (e.g. one with a slash) works.
  search_irsa_by_cluster_and_code = "SEARCH('{\"${var.metrics_namespace}\",Cluster,ErrorCode} MetricName=\"IrsaAssumeFailures\"', 'Sum', ${local.dashboard_period})"
  search_pod_identity_by_cluster  = "SEARCH('{\"${var.metrics_namespace}\",Cluster} MetricName=\"PodIdentityFailures\"', 'Sum', ${local.dashboard_period})"
  search_findings_by_detection    = "SEARCH('{\"${var.metrics_namespace}\",Detection} MetricName=\"Findings\"', 'Sum', ${local.dashboard_period})"
  search_alerts_by_severity       = "SEARCH('{\"${var.metrics_namespace}\",Severity} MetricName=\"Alerts\"', 'Sum', ${local.dashboard_period})"

  dashboard_alarm_arns = concat(
    [
      aws_cloudwatch_metric_alarm.irsa_assume_failures.arn,
      aws_cloudwatch_metric_alarm.pod_identity_failures.arn,
      aws_cloudwatch_metric_alarm.critical_alerts.arn,
      aws_cloudwatch_metric_alarm.bad_records.arn,
      aws_cloudwatch_metric_alarm.failed_objects.arn,
      aws_cloudwatch_metric_alarm.publish_failures.arn,
      aws_cloudwatch_metric_alarm.lag.arn,
    ],
    [for a in aws_cloudwatch_metric_alarm.function_errors : a.arn],
    [for a in aws_cloudwatch_metric_alarm.dlq_depth : a.arn],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name

  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "alarm"
        x      = 0
        y      = 0
        width  = 24
        height = 3
        properties = {
          title  = "trailwatch alarms"
          alarms = local.dashboard_alarm_arns
        }
      },

      # Identity plane ---------------------------------------------------------------
      {
        type   = "metric"
        x      = 0
        y      = 3
        width  = 12
        height = 6
        properties = {
          title   = "IRSA exchange failures by cluster and error code"
          region  = local.region
          view    = "timeSeries"
          stacked = true
          period  = local.dashboard_period
          stat    = "Sum"
          metrics = [
            [{ id = "irsa", expression = local.search_irsa_by_cluster_and_code, label = "" }],
          ]
          annotations = {
            horizontal = [{ label = "alarm (all clusters)", value = var.irsa_failure_threshold }]
          }
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 3
        width  = 12
        height = 6
        properties = {
          title   = "Pod Identity exchange failures by cluster"
          region  = local.region
          view    = "timeSeries"
          stacked = true
          period  = local.dashboard_period
          stat    = "Sum"
          metrics = [
            [{ id = "podid", expression = local.search_pod_identity_by_cluster, label = "" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 9
        width  = 12
        height = 6
        properties = {
          title   = "Findings by detection (before dedup and thresholds)"
          region  = local.region
          view    = "timeSeries"
          stacked = true
          period  = local.dashboard_period
          stat    = "Sum"
          metrics = [
            [{ id = "findings", expression = local.search_findings_by_detection, label = "" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 9
        width  = 12
        height = 6
        properties = {
          title   = "Alerts sent by severity"
          region  = local.region
          view    = "timeSeries"
          stacked = true
          period  = local.dashboard_period
          stat    = "Sum"
          metrics = [
            [{ id = "alerts", expression = local.search_alerts_by_severity, label = "" }],
          ]
        }
      },

      # Pipeline -----------------------------------------------------------------------
      {
        type   = "metric"
        x      = 0
        y      = 15
        width  = 8
        height = 6
        properties = {
          title  = "Throughput: records and decompressed bytes"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          stat   = "Sum"
          metrics = [
            [var.metrics_namespace, "Records", { label = "Records" }],
            [var.metrics_namespace, "Bytes", { label = "Bytes", yAxis = "right" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = 15
        width  = 8
        height = 6
        properties = {
          title  = "Lag: now - eventTime (seconds)"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          metrics = [
            [var.metrics_namespace, "LagSeconds", { stat = "Maximum", label = "oldest record" }],
            [var.metrics_namespace, "LagSeconds", { stat = "Average", label = "average" }],
          ]
          annotations = {
            horizontal = [{ label = "alarm", value = var.lag_threshold_seconds }]
          }
        }
      },
      {
        type   = "metric"
        x      = 16
        y      = 15
        width  = 8
        height = 6
        properties = {
          title  = "Pipeline health"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          stat   = "Sum"
          metrics = [
            [var.metrics_namespace, "BadRecords", { label = "bad records" }],
            [var.metrics_namespace, "SkippedFiles", { label = "skipped files (digest, insights)" }],
            [var.metrics_namespace, "FailedObjects", { label = "failed objects" }],
            [var.metrics_namespace, "AlertsPublished", { label = "alerts published" }],
            [var.metrics_namespace, "PublishFailures", { label = "publish failures" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 21
        width  = 12
        height = 6
        properties = {
          title  = "Functions: errors, throttles, invocations"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          stat   = "Sum"
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.ingest.function_name, { label = "ingest errors" }],
            ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.ingest.function_name, { label = "ingest throttles" }],
            ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.ingest.function_name, { label = "ingest invocations", yAxis = "right" }],
            ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.logs.function_name, { label = "logs errors" }],
            ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.logs.function_name, { label = "logs throttles" }],
            ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.logs.function_name, { label = "logs invocations", yAxis = "right" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 21
        width  = 12
        height = 6
        properties = {
          title  = "Queues: backlog, age of the oldest message, dead letters"
          region = local.region
          view   = "timeSeries"
          period = local.dashboard_period
          stat   = "Maximum"
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.ingest.name, { label = "ingest backlog" }],
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.ingest.name, { label = "oldest message (s)", yAxis = "right" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name, { label = "ingest dead letters" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.logs_dlq.name, { label = "logs dead letters" }],
          ]
        }
      },
    ]
  })
}

# Alarms on what the functions emit (functions/trailwatch-aws/src/metrics.rs: names and
# dimensions are API, tests/infra.rs checks them) and on the pipeline's AWS metrics.
# Every alarm notifies the alert topic and var.extra_alarm_actions, on ALARM and on OK.
# Missing data is not breaching: the custom metrics only exist while there is something
# to count.

locals {
  alarm_actions = concat([aws_sns_topic.alerts.arn], var.extra_alarm_actions)
}

# ---------------------------------------------------------------------------------------
# Identity plane
# ---------------------------------------------------------------------------------------

# The guide's alarm: more than 5 failed AssumeRoleWithWebIdentity calls in 300 s.
resource "aws_cloudwatch_metric_alarm" "irsa_assume_failures" {
  alarm_name          = "${var.name}-irsa-assume-failures"
  alarm_description   = "More than ${var.irsa_failure_threshold} IRSA exchanges (AssumeRoleWithWebIdentity) failed in 5 minutes. The alerts name the cluster, namespace, service account, role and the diagnosis of the error code; the dashboard splits the failures by cluster and error code."
  namespace           = var.metrics_namespace
  metric_name         = "IrsaAssumeFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.irsa_failure_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "pod_identity_failures" {
  alarm_name          = "${var.name}-pod-identity-failures"
  alarm_description   = "More than ${var.pod_identity_failure_threshold} EKS Pod Identity exchanges (AssumeRoleForPodIdentity, or the AssumeRole EKS makes for it) failed in 5 minutes: usually a role trust policy without pods.eks.amazonaws.com or sts:TagSession."
  namespace           = var.metrics_namespace
  metric_name         = "PodIdentityFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.pod_identity_failure_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# The alert itself already went to the topic; this alarm is for var.extra_alarm_actions
# (paging) and for the alarm history.
resource "aws_cloudwatch_metric_alarm" "critical_alerts" {
  alarm_name          = "${var.name}-critical-alerts"
  alarm_description   = "trailwatch sent a critical alert (credential exfiltration: node or workload credentials used outside the cluster's egress CIDRs). Read the alert on the topic."
  namespace           = var.metrics_namespace
  metric_name         = "Alerts"
  dimensions          = { Severity = "critical" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# ---------------------------------------------------------------------------------------
# Pipeline health
# ---------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "bad_records" {
  alarm_name          = "${var.name}-bad-records"
  alarm_description   = "CloudTrail records were skipped as unusable (not JSON, over the size cap). The functions' logs name the object."
  namespace           = var.metrics_namespace
  metric_name         = "BadRecords"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failed_objects" {
  alarm_name          = "${var.name}-failed-objects"
  alarm_description   = "CloudTrail objects could not be read (missing, access denied, corrupt gzip). Their messages are retried and end in the dead-letter queue."
  namespace           = var.metrics_namespace
  metric_name         = "FailedObjects"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "publish_failures" {
  alarm_name          = "${var.name}-publish-failures"
  alarm_description   = "Alerts could not be published to SNS. Their claims were released and the messages are retried; check the topic policy and KMS key."
  namespace           = var.metrics_namespace
  metric_name         = "PublishFailures"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lag" {
  alarm_name          = "${var.name}-lag"
  alarm_description   = "The oldest CloudTrail record processed in 5 minutes is more than ${var.lag_threshold_seconds} s old: detection is running late (queue backlog, throttling, redelivery)."
  namespace           = var.metrics_namespace
  metric_name         = "LagSeconds"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.lag_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = {
    ingest = aws_lambda_function.ingest.function_name
    logs   = aws_lambda_function.logs.function_name
  }

  alarm_name          = "${each.value}-errors"
  alarm_description   = "The ${each.value} function failed invocations (a bad configuration fails every cold start). See its log group."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = {
    ingest = aws_sqs_queue.dlq.name
    logs   = aws_sqs_queue.logs_dlq.name
  }

  alarm_name          = "${each.value}-depth"
  alarm_description   = "Messages are waiting in the dead-letter queue ${each.value}: CloudTrail deliveries trailwatch gave up on. Fix the cause, then redrive them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

output "trailwatch_ingest_function_name" {
  description = "Name of the ingest function (SQS-triggered; also accepts direct S3 and EventBridge events)."
  value       = aws_lambda_function.ingest.function_name
}

output "trailwatch_ingest_function_arn" {
  description = "ARN of the ingest function."
  value       = aws_lambda_function.ingest.arn
}

output "trailwatch_logs_function_name" {
  description = "Name of the logs function (CloudWatch Logs subscription)."
  value       = aws_lambda_function.logs.function_name
}

output "trailwatch_logs_function_arn" {
  description = "ARN of the logs function, for subscription filters on other CloudTrail log groups."
  value       = aws_lambda_function.logs.arn
}

output "trailwatch_ingest_role_arn" {
  description = "ARN of the ingest function's role (e.g. to allow it in a cross-account bucket or key policy)."
  value       = aws_iam_role.ingest.arn
}

output "trailwatch_logs_role_arn" {
  description = "ARN of the logs function's role."
  value       = aws_iam_role.logs.arn
}

output "trailwatch_queue_arn" {
  description = "ARN of the ingest queue CloudTrail object notifications go to."
  value       = aws_sqs_queue.ingest.arn
}

output "trailwatch_queue_url" {
  description = "URL of the ingest queue."
  value       = aws_sqs_queue.ingest.id
}

output "trailwatch_dlq_url" {
  description = "URL of the ingest queue's dead-letter queue (redrive it once the cause is fixed)."
  value       = aws_sqs_queue.dlq.id
}

output "trailwatch_logs_dlq_url" {
  description = "URL of the logs function's dead-letter queue (failed asynchronous deliveries)."
  value       = aws_sqs_queue.logs_dlq.id
}

output "trailwatch_alert_topic_arn" {
  description = "ARN of the SNS topic alerts and alarms go to; subscribe more endpoints to it, filtering on the message attributes severity and detection."
  value       = aws_sns_topic.alerts.arn
}

output "trailwatch_state_table_name" {
  description = "Name of the DynamoDB state table."
  value       = aws_dynamodb_table.state.name
}

output "trailwatch_state_table_arn" {
  description = "ARN of the DynamoDB state table."
  value       = aws_dynamodb_table.state.arn
}

output "trailwatch_kms_key_arn" {
  description = "ARN of the module's KMS key (queues, topic, table, configuration, logs; and the CloudTrail bucket the module creates)."
  value       = aws_kms_key.this.arn
}

output "trailwatch_config_bucket_name" {
  description = "Name of the bucket holding the rendered configuration."
  value       = aws_s3_bucket.config.id
}

output "trailwatch_config_location" {
  description = "TRAILWATCH_CONFIG of both functions: s3://bucket/key of the rendered configuration."
  value       = local.config_location
}

output "trailwatch_config_toml" {
  description = "The rendered configuration (review it in plan; `trailwatch replay --config` takes the same file)."
  value       = local.config_toml
}

output "trailwatch_cloudtrail_bucket_name" {
  description = "The CloudTrail bucket read: var.cloudtrail_bucket_name, or the bucket the module created (point your trail's s3_bucket_name at it)."
  value       = local.cloudtrail_bucket_name
}

output "trailwatch_alarm_arns" {
  description = "ARNs of the alarms, by name."
  value = merge(
    {
      irsa_assume_failures  = aws_cloudwatch_metric_alarm.irsa_assume_failures.arn
      pod_identity_failures = aws_cloudwatch_metric_alarm.pod_identity_failures.arn
      critical_alerts       = aws_cloudwatch_metric_alarm.critical_alerts.arn
      bad_records           = aws_cloudwatch_metric_alarm.bad_records.arn
      failed_objects        = aws_cloudwatch_metric_alarm.failed_objects.arn
      publish_failures      = aws_cloudwatch_metric_alarm.publish_failures.arn
      lag                   = aws_cloudwatch_metric_alarm.lag.arn
    },
    { for k, a in aws_cloudwatch_metric_alarm.function_errors : "${k}_function_errors" => a.arn },
    { for k, a in aws_cloudwatch_metric_alarm.dlq_depth : "${k}_dlq_depth" => a.arn },
  )
}

output "trailwatch_dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "trailwatch_dashboard_url" {
  description = "Console URL of the dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.this.dashboard_name}"
}

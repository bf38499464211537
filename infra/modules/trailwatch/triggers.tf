# What invokes the functions: CloudTrail object notifications through the ingest queue,
# and (optionally) a subscription on the CloudTrail log group.

# ---------------------------------------------------------------------------------------
# CloudTrail bucket -> ingest queue: an S3 event notification, or CloudTrail's SNS topic
# ---------------------------------------------------------------------------------------

resource "aws_s3_bucket_notification" "cloudtrail" {
  count = var.cloudtrail_sns_topic_arn == null ? 1 : 0

  bucket = local.cloudtrail_bucket_name

  queue {
    id            = "${var.name}-ingest"
    queue_arn     = aws_sqs_queue.ingest.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.cloudtrail_logs_prefix
    filter_suffix = ".json.gz"
  }

  depends_on = [aws_sqs_queue_policy.ingest, aws_kms_key.this]
}

resource "aws_sns_topic_subscription" "cloudtrail" {
  count = var.cloudtrail_sns_topic_arn == null ? 0 : 1

  topic_arn = var.cloudtrail_sns_topic_arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.ingest.arn
  # The function reads CloudTrail's {"s3Bucket", "s3ObjectKey": [...]} as is.
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.ingest]
}

# ---------------------------------------------------------------------------------------
# Ingest queue -> ingest function
# ---------------------------------------------------------------------------------------

resource "aws_lambda_event_source_mapping" "ingest" {
  event_source_arn                   = aws_sqs_queue.ingest.arn
  function_name                      = aws_lambda_function.ingest.arn
  batch_size                         = var.ingest_batch_size
  maximum_batching_window_in_seconds = var.ingest_batching_window_seconds

  # Each message fails or succeeds alone: the function answers with the failed ids.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.ingest_max_concurrency
  }

  tags = var.tags
}

# ---------------------------------------------------------------------------------------
# CloudTrail log group -> logs function (optional)
# ---------------------------------------------------------------------------------------

locals {
  cloudtrail_log_group_arn = var.cloudtrail_log_group_name == null ? null : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${var.cloudtrail_log_group_name}"
}

resource "aws_lambda_permission" "logs_subscription" {
  count = var.cloudtrail_log_group_name == null ? 0 : 1

  statement_id   = "CloudTrailLogGroupSubscription"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.logs.function_name
  principal      = "logs.amazonaws.com"
  source_arn     = "${local.cloudtrail_log_group_arn}:*"
  source_account = local.account_id
}

resource "aws_cloudwatch_log_subscription_filter" "cloudtrail" {
  count = var.cloudtrail_log_group_name == null ? 0 : 1

  name            = "${var.name}-logs"
  log_group_name  = var.cloudtrail_log_group_name
  filter_pattern  = var.logs_filter_pattern
  destination_arn = aws_lambda_function.logs.arn

  depends_on = [aws_lambda_permission.logs_subscription]
}

# trailwatch: two Lambda functions that read CloudTrail (from S3 through SQS, and from a
# CloudWatch Logs subscription), detect failed and anomalous EKS workload-credential use,
# and send alerts to SNS and metrics to CloudWatch. This file holds the functions; the
# files beside it hold one concern each (iam.tf, queues.tf, triggers.tf, config.tf,
# alerts.tf, state.tf, kms.tf, cloudtrail_bucket.tf, alarms.tf, dashboard.tf).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  partition  = data.aws_partition.current.partition

  ingest_function_name = "${var.name}-ingest"
  logs_function_name   = "${var.name}-logs"

  # Log group ARNs as IAM and the KMS key policy name them.
  log_group_arn_prefix = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}-"

  # What both functions read from their environment (functions/trailwatch-aws/src/services.rs).
  # The configuration itself travels as an S3 object: Lambda caps the environment at 4 KB.
  function_environment = {
    TRAILWATCH_CONFIG          = local.config_location
    TRAILWATCH_ALERT_TOPIC_ARN = aws_sns_topic.alerts.arn
    TRAILWATCH_STATE_TABLE     = aws_dynamodb_table.state.name
    TRAILWATCH_MAX_CONCURRENCY = tostring(var.object_concurrency)
  }

  tracing_mode = var.enable_xray ? "Active" : "PassThrough"
}

# ---------------------------------------------------------------------------------------
# Log groups (created before the functions so Lambda does not create them unencrypted
# and without retention)
# ---------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "ingest" {
  name              = "/aws/lambda/${local.ingest_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "logs" {
  name              = "/aws/lambda/${local.logs_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

# ---------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------

resource "aws_lambda_function" "ingest" {
  #checkov:skip=CKV_AWS_116:Invoked by an SQS event source mapping: failed messages go to the queue's redrive DLQ (aws_sqs_queue.dlq); a function DLQ only applies to asynchronous invocation.
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (S3, SNS, CloudWatch, DynamoDB) over TLS and reaches nothing inside a VPC; running it in one would only add a NAT gateway or interface endpoints for those services.
  #checkov:skip=CKV_AWS_272:The zip is built by `make package` from this repository and uploaded by Terraform; there is no signing profile in this workflow.
  function_name = local.ingest_function_name
  description   = "trailwatch: CloudTrail objects announced through SQS -> detections -> SNS alerts and CloudWatch metrics"
  role          = aws_iam_role.ingest.arn

  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = var.ingest_package_path
  source_code_hash = filebase64sha256(var.ingest_package_path)

  memory_size                    = var.ingest_memory_size
  timeout                        = var.ingest_timeout
  reserved_concurrent_executions = var.ingest_reserved_concurrency

  environment {
    variables = local.function_environment
  }
  # Lambda decrypts the environment through a grant it creates on the key at deployment;
  # the role needs no KMS permission for it.
  kms_key_arn = aws_kms_key.this.arn

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.ingest.name
  }

  tracing_config {
    mode = local.tracing_mode
  }

  tags = var.tags

  # The role's policy must exist before the first cold start reads the configuration.
  depends_on = [aws_iam_role_policy.ingest]
}

resource "aws_lambda_function" "logs" {
  #checkov:skip=CKV_AWS_117:Talks only to AWS APIs (S3, SNS, CloudWatch, DynamoDB) over TLS and reaches nothing inside a VPC; running it in one would only add a NAT gateway or interface endpoints for those services.
  #checkov:skip=CKV_AWS_272:The zip is built by `make package` from this repository and uploaded by Terraform; there is no signing profile in this workflow.
  function_name = local.logs_function_name
  description   = "trailwatch: CloudWatch Logs subscription on the CloudTrail log group -> detections -> SNS alerts and CloudWatch metrics"
  role          = aws_iam_role.logs.arn

  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = var.logs_package_path
  source_code_hash = filebase64sha256(var.logs_package_path)

  memory_size                    = var.logs_memory_size
  timeout                        = var.logs_timeout
  reserved_concurrent_executions = var.logs_reserved_concurrency

  environment {
    variables = local.function_environment
  }
  # Lambda decrypts the environment through a grant it creates on the key at deployment;
  # the role needs no KMS permission for it.
  kms_key_arn = aws_kms_key.this.arn

  # CloudWatch Logs invokes asynchronously: deliveries that still fail after Lambda's
  # retries are kept here instead of being dropped.
  dead_letter_config {
    target_arn = aws_sqs_queue.logs_dlq.arn
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.logs.name
  }

  tracing_config {
    mode = local.tracing_mode
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.logs]
}

# One role per function; one policy document per concern, scoped to exact ARNs. Each
# role's inline policy is the union of the documents of the concerns that function has.
#
# What the functions call (functions/trailwatch-aws/src, checked by tests/infra.rs):
#   S3 GetObject (CloudTrail objects; the configuration object), SNS PublishBatch
#   (sns:Publish), CloudWatch PutMetricData, DynamoDB GetItem/PutItem/UpdateItem.
# What Lambda does with the role: SQS polling for the event source mapping, writing to
# the log group, the logs function's dead-letter queue, X-Ray when enabled.
# SSM GetParameter is not granted: the module delivers the configuration from S3, the
# code only calls SSM for an `ssm:` TRAILWATCH_CONFIG.

locals {
  kms_via_s3       = "s3.${local.region}.amazonaws.com"
  kms_via_sqs      = "sqs.${local.region}.amazonaws.com"
  kms_via_sns      = "sns.${local.region}.amazonaws.com"
  kms_via_dynamodb = "dynamodb.${local.region}.amazonaws.com"

  function_log_group_arns = {
    ingest = aws_cloudwatch_log_group.ingest.arn
    logs   = aws_cloudwatch_log_group.logs.arn
  }
}

# ---------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssumes"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ingest" {
  name               = "${var.name}-ingest"
  description        = "trailwatch ingest function: reads CloudTrail objects announced on its queue"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

resource "aws_iam_role" "logs" {
  name               = "${var.name}-logs"
  description        = "trailwatch logs function: reads CloudTrail records from a CloudWatch Logs subscription"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "ingest" {
  name   = "trailwatch"
  role   = aws_iam_role.ingest.id
  policy = data.aws_iam_policy_document.ingest.json
}

resource "aws_iam_role_policy" "logs" {
  name   = "trailwatch"
  role   = aws_iam_role.logs.id
  policy = data.aws_iam_policy_document.logs.json
}

data "aws_iam_policy_document" "ingest" {
  source_policy_documents = concat(
    [
      data.aws_iam_policy_document.read_config.json,
      data.aws_iam_policy_document.read_cloudtrail.json,
      data.aws_iam_policy_document.consume_queue.json,
      data.aws_iam_policy_document.state_table.json,
      data.aws_iam_policy_document.publish_alerts.json,
      data.aws_iam_policy_document.put_metrics.json,
      data.aws_iam_policy_document.write_logs["ingest"].json,
    ],
    var.enable_xray ? [data.aws_iam_policy_document.tracing.json] : [],
  )
}

data "aws_iam_policy_document" "logs" {
  source_policy_documents = concat(
    [
      data.aws_iam_policy_document.read_config.json,
      data.aws_iam_policy_document.state_table.json,
      data.aws_iam_policy_document.publish_alerts.json,
      data.aws_iam_policy_document.put_metrics.json,
      data.aws_iam_policy_document.write_logs["logs"].json,
      data.aws_iam_policy_document.logs_dead_letter.json,
    ],
    var.enable_xray ? [data.aws_iam_policy_document.tracing.json] : [],
  )
}

# ---------------------------------------------------------------------------------------
# Concerns shared by both functions
# ---------------------------------------------------------------------------------------

# The configuration object, and only the current one (its key changes with its content).
data "aws_iam_policy_document" "read_config" {
  statement {
    sid       = "ReadConfiguration"
    actions   = ["s3:GetObject"]
    resources = [local.config_arn]
  }

  # SSE-KMS objects in the configuration bucket (and in the CloudTrail bucket when the
  # module created it: same key).
  statement {
    sid       = "DecryptS3ObjectsOfTheModuleKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_s3]
    }
  }
}

# Detection state: conditional writes and atomic counters on one table, batched reads
# and plain writes.
data "aws_iam_policy_document" "state_table" {
  statement {
    sid = "ReadWriteState"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
    ]
    resources = [aws_dynamodb_table.state.arn]
  }

  statement {
    sid       = "UseTheStateTableKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_dynamodb]
    }
  }
}

# Alerts: PublishBatch is authorized as sns:Publish.
data "aws_iam_policy_document" "publish_alerts" {
  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  statement {
    sid       = "UseTheAlertTopicKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_sns]
    }
  }
}

# Metrics, into trailwatch's namespace only.
data "aws_iam_policy_document" "put_metrics" {
  statement {
    sid     = "PutMetricsInTheTrailwatchNamespace"
    actions = ["cloudwatch:PutMetricData"]
    # "*": PutMetricData has no resource-level permissions; the cloudwatch:namespace
    # condition is how AWS scopes it.
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }
}

# The function's own log group (what AWSLambdaBasicExecutionRole grants, narrowed).
data "aws_iam_policy_document" "write_logs" {
  for_each = local.function_log_group_arns

  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${each.value}:*"]
  }
}

# X-Ray, only when enabled.
data "aws_iam_policy_document" "tracing" {
  statement {
    sid     = "SendTraces"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    # "*": X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level
    # permissions.
    resources = ["*"]
  }
}

# ---------------------------------------------------------------------------------------
# Ingest only
# ---------------------------------------------------------------------------------------

# CloudTrail log files, under the trail's AWSLogs/ prefix only, not other data in the
# bucket (digest files share the prefix; the function skips them by key).
data "aws_iam_policy_document" "read_cloudtrail" {
  statement {
    sid       = "ReadCloudTrailLogFiles"
    actions   = ["s3:GetObject"]
    resources = ["${local.cloudtrail_bucket_arn}/${local.cloudtrail_logs_prefix}*"]
  }

  # The trail's own SSE-KMS key, when it has one.
  dynamic "statement" {
    for_each = var.cloudtrail_kms_key_arn == null ? [] : [var.cloudtrail_kms_key_arn]
    content {
      sid       = "DecryptCloudTrailLogFiles"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.kms_via_s3]
      }
    }
  }
}

# What the event source mapping does with the function's role.
data "aws_iam_policy_document" "consume_queue" {
  statement {
    sid       = "ConsumeIngestQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.ingest.arn]
  }

  statement {
    sid       = "DecryptIngestQueueMessages"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_sqs]
    }
  }
}

# ---------------------------------------------------------------------------------------
# Logs only
# ---------------------------------------------------------------------------------------

# Lambda sends failed asynchronous deliveries to the dead-letter queue with the role.
data "aws_iam_policy_document" "logs_dead_letter" {
  statement {
    sid       = "SendToOwnDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.logs_dlq.arn]
  }

  statement {
    sid       = "EncryptDeadLetters"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_sqs]
    }
  }
}

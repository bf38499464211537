# The ingest queue (CloudTrail object notifications), its dead-letter queue, and the
# dead-letter queue of the logs function's asynchronous invocations.

locals {
  # AWS: at least six times the function timeout, plus the batching window, so a message
  # is not delivered again while an invocation may still be working on it.
  ingest_visibility_timeout = 6 * var.ingest_timeout + var.ingest_batching_window_seconds
}

resource "aws_sqs_queue" "ingest" {
  name                       = "${var.name}-ingest"
  visibility_timeout_seconds = local.ingest_visibility_timeout
  message_retention_seconds  = 345600 # 4 days: long enough to fix a broken deployment
  receive_wait_time_seconds  = 20
  kms_master_key_id          = aws_kms_key.this.arn
  # Reuse a data key for 5 minutes: fewer KMS calls from S3, SQS and the function.
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.name}-ingest-dlq"
  message_retention_seconds         = 1209600 # 14 days, the maximum
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.ingest.arn]
  })
}

resource "aws_sqs_queue" "logs_dlq" {
  name                              = "${var.name}-logs-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = var.tags
}

# Who may send to the ingest queue: the CloudTrail bucket's notifications, or CloudTrail's
# SNS topic; nobody over plain HTTP.
resource "aws_sqs_queue_policy" "ingest" {
  queue_url = aws_sqs_queue.ingest.id
  policy    = data.aws_iam_policy_document.ingest_queue.json
}

data "aws_iam_policy_document" "ingest_queue" {
  dynamic "statement" {
    for_each = var.cloudtrail_sns_topic_arn == null ? [1] : []
    content {
      sid       = "CloudTrailBucketNotifies"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.ingest.arn]
      principals {
        type        = "Service"
        identifiers = ["s3.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [local.cloudtrail_bucket_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = var.cloudtrail_sns_topic_arn == null ? [] : [1]
    content {
      sid       = "CloudTrailTopicDelivers"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.ingest.arn]
      principals {
        type        = "Service"
        identifiers = ["sns.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [var.cloudtrail_sns_topic_arn]
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.ingest.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

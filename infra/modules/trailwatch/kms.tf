# One customer managed key for everything the module stores: the queues, the alert topic,
# the state table, the configuration bucket, the log groups (and the CloudTrail bucket
# when the module creates it). The functions' roles use it only through those services
# (kms:ViaService conditions in iam.tf).

resource "aws_kms_key" "this" {
  description             = "trailwatch (${var.name}): queues, alert topic, state table, configuration, logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms_key" {
  #checkov:skip=CKV_AWS_109:A key policy: Resource "*" means this key only, and the account root statement is what lets IAM policies (not this document) decide who may administer it.
  #checkov:skip=CKV_AWS_111:A key policy: Resource "*" means this key only; write access is granted to AWS services with source conditions and to the account's IAM policies.
  #checkov:skip=CKV_AWS_356:A key policy: Resource "*" is the only valid resource in a key policy and means this key.

  # The account (its IAM policies) administers and uses the key; without this statement
  # the key becomes unmanageable.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the functions' log groups.
  statement {
    sid = "LogsEncryptTheFunctionLogGroups"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["${local.log_group_arn_prefix}*"]
    }
  }

  # CloudWatch alarms publish to the encrypted alert topic.
  statement {
    sid       = "AlarmsPublishToTheAlertTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }

  # S3 sends CloudTrail object notifications to the encrypted queue.
  dynamic "statement" {
    for_each = var.cloudtrail_sns_topic_arn == null ? [1] : []
    content {
      sid       = "S3NotifiesTheQueue"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["s3.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [local.cloudtrail_bucket_arn]
      }
    }
  }

  # CloudTrail's SNS topic delivers to the encrypted queue.
  dynamic "statement" {
    for_each = var.cloudtrail_sns_topic_arn == null ? [] : [1]
    content {
      sid       = "CloudTrailTopicDeliversToTheQueue"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]
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

  # CloudTrail writes log files into the bucket the module creates (default SSE-KMS).
  dynamic "statement" {
    for_each = local.create_cloudtrail_bucket ? [1] : []
    content {
      sid       = "CloudTrailEncryptsLogFiles"
      actions   = ["kms:GenerateDataKey*"]
      resources = ["*"]
      principals {
        type        = "Service"
        identifiers = ["cloudtrail.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "aws:SourceArn"
        values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
      }
    }
  }
}

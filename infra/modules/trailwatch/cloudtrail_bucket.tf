# The CloudTrail bucket: an existing one (var.cloudtrail_bucket_name), or a new one the
# module creates for a trail to deliver to.

locals {
  create_cloudtrail_bucket = var.cloudtrail_bucket_name == null

  cloudtrail_bucket_name = local.create_cloudtrail_bucket ? aws_s3_bucket.cloudtrail[0].id : var.cloudtrail_bucket_name
  cloudtrail_bucket_arn  = "arn:${local.partition}:s3:::${local.cloudtrail_bucket_name}"

  # Where CloudTrail writes log files: [prefix/]AWSLogs/[o-org/]<account>/CloudTrail/...
  cloudtrail_logs_prefix = var.cloudtrail_key_prefix == "" ? "AWSLogs/" : "${var.cloudtrail_key_prefix}/AWSLogs/"
}

resource "aws_s3_bucket" "cloudtrail" {
  #checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket the module cannot choose; CloudTrail data events on this bucket are the usual audit trail for it.
  #checkov:skip=CKV_AWS_144:Cross-region replication is an organization-wide decision (a destination bucket and role in another region) outside this module.
  count = local.create_cloudtrail_bucket ? 1 : 0

  bucket = "${var.name}-cloudtrail-${local.account_id}-${local.region}"
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "cloudtrail" {
  count = local.create_cloudtrail_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.cloudtrail[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "cloudtrail" {
  count = local.create_cloudtrail_bucket ? 1 : 0

  bucket = aws_s3_bucket.cloudtrail[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "cloudtrail" {
  count = local.create_cloudtrail_bucket ? 1 : 0

  bucket = aws_s3_bucket.cloudtrail[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "cloudtrail" {
  count = local.create_cloudtrail_bucket ? 1 : 0

  bucket = aws_s3_bucket.cloudtrail[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "cloudtrail" {
  count = local.create_cloudtrail_bucket ? 1 : 0

  bucket = aws_s3_bucket.cloudtrail[0].id

  rule {
    id     = "expire-noncurrent-and-incomplete"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "cloudtrail" {
  count = local.create_cloudtrail_bucket ? 1 : 0

  bucket = aws_s3_bucket.cloudtrail[0].id
  policy = data.aws_iam_policy_document.cloudtrail_bucket[0].json

  depends_on = [aws_s3_bucket_public_access_block.cloudtrail]
}

# What CloudTrail needs to deliver this account's trails here
# (CloudTrail user guide, "Amazon S3 bucket policy for CloudTrail").
data "aws_iam_policy_document" "cloudtrail_bucket" {
  count = local.create_cloudtrail_bucket ? 1 : 0

  statement {
    sid       = "CloudTrailChecksTheBucketAcl"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.cloudtrail[0].arn]
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

  statement {
    sid       = "CloudTrailWritesLogFiles"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.cloudtrail[0].arn}/${local.cloudtrail_logs_prefix}${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
    condition {
      test     = "StringLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.cloudtrail[0].arn,
      "${aws_s3_bucket.cloudtrail[0].arn}/*",
    ]
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

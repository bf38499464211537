# The functions' configuration: TOML rendered from the module's variables, stored as an S3
# object (Lambda caps the environment at 4 KB; an object has no such limit) and named in
# TRAILWATCH_CONFIG as s3://bucket/key.

locals {
  config_toml = templatefile("${path.module}/templates/trailwatch.toml.tftpl", {
    trusted_accounts  = var.trusted_accounts
    metrics_namespace = var.metrics_namespace
    metrics_mode      = var.metrics_mode
    clusters          = var.clusters
    bindings          = var.bindings
    extra_config      = trimspace(var.extra_config)
  })

  # The key carries a hash of the content: a new configuration is a new key, so the
  # functions' environment changes and Lambda starts fresh instances that load it
  # (instances load the configuration once, at cold start).
  config_key      = "config/trailwatch-${substr(sha256(local.config_toml), 0, 16)}.toml"
  config_location = "s3://${aws_s3_bucket.config.id}/${aws_s3_object.config.key}"
  config_arn      = "${aws_s3_bucket.config.arn}/${aws_s3_object.config.key}"

  cluster_names = [for c in var.clusters : c.name]
}

resource "aws_s3_bucket" "config" {
  #checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket the module cannot choose; the bucket holds one object that Terraform writes and two roles read.
  #checkov:skip=CKV_AWS_144:The only object is rendered from Terraform variables; the next apply recreates it in any region, so replicating it adds nothing.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to configuration changes: the functions load it at cold start, and a change starts new instances through the environment (the key changes).
  bucket = "${var.name}-config-${local.account_id}-${local.region}"
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "config" {
  bucket                  = aws_s3_bucket.config.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "config" {
  bucket = aws_s3_bucket.config.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "config" {
  bucket = aws_s3_bucket.config.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "config" {
  bucket = aws_s3_bucket.config.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "config" {
  bucket = aws_s3_bucket.config.id

  rule {
    id     = "expire-old-configurations"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "config" {
  bucket = aws_s3_bucket.config.id
  policy = data.aws_iam_policy_document.config_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.config]
}

data "aws_iam_policy_document" "config_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.config.arn,
      "${aws_s3_bucket.config.arn}/*",
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

resource "aws_s3_object" "config" {
  bucket                 = aws_s3_bucket.config.id
  key                    = local.config_key
  content                = local.config_toml
  content_type           = "application/toml"
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_key.this.arn
  tags                   = var.tags

  lifecycle {
    # The functions keep reading the old key until their environment names the new one.
    create_before_destroy = true

    # The engine rejects bindings to unknown clusters at cold start; fail the plan instead.
    precondition {
      condition     = alltrue([for b in var.bindings : contains(local.cluster_names, b.cluster)])
      error_message = "Every binding's cluster must be the name of one of var.clusters."
    }
  }

  depends_on = [
    aws_s3_bucket_server_side_encryption_configuration.config,
    aws_s3_bucket_versioning.config,
  ]
}

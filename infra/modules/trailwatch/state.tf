# The state of the stateful detections in DynamoDB: credential stitching, thresholds,
# alert dedup claims and first-seen baselines. Items are {pk (S), v (B) or n (N), exp (N)};
# DynamoDB's TTL removes them after `exp` (the code also ignores expired items).

resource "aws_dynamodb_table" "state" {
  name         = "${var.name}-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "exp"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  deletion_protection_enabled = var.state_table_deletion_protection

  tags = var.tags
}

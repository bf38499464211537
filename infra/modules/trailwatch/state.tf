# The state of the stateful detections in DynamoDB: credential stitching, thresholds,
# alert dedup claims and first-seen baselines. Items are {pk (S), v (B) or n (N), exp (N),
# ttl (N)}: `exp` is the expiry in event time, which the code checks on every read; `ttl`
# is wall-clock time two days past the later of `exp` and the item's write, for DynamoDB's
# TTL to delete it by (records arrive after their events, late ones much later).

resource "aws_dynamodb_table" "state" {
  name         = "${var.name}-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "ttl"
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

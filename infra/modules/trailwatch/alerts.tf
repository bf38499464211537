# Where alerts go: one SNS topic, encrypted, for the functions' alerts and the alarms.
# Messages carry the attributes `severity` and `detection`, for subscription filter
# policies.

resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  display_name      = "trailwatch"
  kms_master_key_id = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "alerts" {
  for_each = { for s in var.alert_subscriptions : "${s.protocol}:${s.endpoint}" => s }

  topic_arn     = aws_sns_topic.alerts.arn
  protocol      = each.value.protocol
  endpoint      = each.value.endpoint
  filter_policy = each.value.filter_policy
  # HTTPS endpoints confirm by answering the SubscriptionConfirmation; e-mail
  # subscriptions stay pending until the recipient confirms.
  endpoint_auto_confirms = each.value.protocol == "https"
}

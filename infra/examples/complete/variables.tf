variable "region" {
  description = "Region to deploy trailwatch in: the region of the CloudTrail bucket (and log group)."
  type        = string
  default     = "ap-southeast-1"
}

variable "cloudtrail_bucket_name" {
  description = "Existing bucket your trail delivers to. null = the module creates one; point a trail at output cloudtrail_bucket_name."
  type        = string
  default     = null
}

variable "cloudtrail_kms_key_arn" {
  description = "The trail's SSE-KMS key, if its log files are encrypted with one."
  type        = string
  default     = null
}

variable "cloudtrail_log_group_name" {
  description = "CloudWatch Logs log group the trail also delivers to, for the logs function. null = no subscription."
  type        = string
  default     = null
}

variable "alert_email" {
  description = "E-mail address subscribed to the alert topic (confirm the subscription e-mail). null = none."
  type        = string
  default     = null
}

variable "oncall_topic_arn" {
  description = "An extra SNS topic (or other alarm action) every alarm notifies, e.g. the on-call pager's. null = none."
  type        = string
  default     = null
}

output "alert_topic_arn" {
  description = "SNS topic the alerts and alarms go to."
  value       = module.trailwatch.trailwatch_alert_topic_arn
}

output "cloudtrail_bucket_name" {
  description = "The CloudTrail bucket trailwatch reads (created by the module when var.cloudtrail_bucket_name is null)."
  value       = module.trailwatch.trailwatch_cloudtrail_bucket_name
}

output "config_location" {
  description = "Where the functions load their configuration from."
  value       = module.trailwatch.trailwatch_config_location
}

output "dashboard_url" {
  description = "The CloudWatch dashboard."
  value       = module.trailwatch.trailwatch_dashboard_url
}

output "ingest_dlq_url" {
  description = "Dead-letter queue of the ingest queue."
  value       = module.trailwatch.trailwatch_dlq_url
}

# ---------------------------------------------------------------------------------------
# Naming
# ---------------------------------------------------------------------------------------

variable "name" {
  description = "Prefix of every resource name: functions are <name>-ingest and <name>-logs, the table <name>-state, the topic <name>-alerts."
  type        = string
  default     = "trailwatch"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 characters of lower-case letters, digits and hyphens, starting with a letter (it is part of S3 bucket names)."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------

variable "ingest_package_path" {
  description = "Path of the trailwatch-ingest zip that `make package` builds (cargo lambda, arm64). Relative paths are relative to the directory terraform runs in; the default suits infra/examples/*."
  type        = string
  default     = "../../../target/lambda/trailwatch-ingest/bootstrap.zip"
}

variable "logs_package_path" {
  description = "Path of the trailwatch-logs zip that `make package` builds (cargo lambda, arm64). Relative paths are relative to the directory terraform runs in; the default suits infra/examples/*."
  type        = string
  default     = "../../../target/lambda/trailwatch-logs/bootstrap.zip"
}

variable "ingest_memory_size" {
  description = "Memory of the ingest function in MB. CPU scales with it (1769 MB = one vCPU); decoding CloudTrail batches is CPU-bound."
  type        = number
  default     = 1024

  validation {
    condition     = var.ingest_memory_size >= 128 && var.ingest_memory_size <= 10240
    error_message = "ingest_memory_size must be between 128 and 10240 MB."
  }
}

variable "ingest_timeout" {
  description = "Timeout of the ingest function in seconds. The queue's visibility timeout is derived from it (6 x timeout + batching window)."
  type        = number
  default     = 120

  validation {
    condition     = var.ingest_timeout >= 10 && var.ingest_timeout <= 900
    error_message = "ingest_timeout must be between 10 and 900 seconds."
  }
}

variable "logs_memory_size" {
  description = "Memory of the logs (CloudWatch Logs subscription) function in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.logs_memory_size >= 128 && var.logs_memory_size <= 10240
    error_message = "logs_memory_size must be between 128 and 10240 MB."
  }
}

variable "logs_timeout" {
  description = "Timeout of the logs function in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.logs_timeout >= 3 && var.logs_timeout <= 900
    error_message = "logs_timeout must be between 3 and 900 seconds."
  }
}

variable "ingest_reserved_concurrency" {
  description = "Reserved concurrent executions of the ingest function: a ceiling on parallel instances (state table and SNS load) and a guarantee against other functions. Keep it at or above ingest_max_concurrency. -1 = unreserved."
  type        = number
  default     = 10

  validation {
    condition     = var.ingest_reserved_concurrency >= -1
    error_message = "ingest_reserved_concurrency must be -1 (unreserved) or a non-negative number."
  }
}

variable "logs_reserved_concurrency" {
  description = "Reserved concurrent executions of the logs function. -1 = unreserved."
  type        = number
  default     = 5

  validation {
    condition     = var.logs_reserved_concurrency >= -1
    error_message = "logs_reserved_concurrency must be -1 (unreserved) or a non-negative number."
  }
}

variable "ingest_max_concurrency" {
  description = "Maximum concurrent invocations the SQS event source mapping starts (scaling_config.maximum_concurrency, 2-1000). Keep it at or below ingest_reserved_concurrency so the queue is not throttled."
  type        = number
  default     = 5

  validation {
    condition     = var.ingest_max_concurrency >= 2 && var.ingest_max_concurrency <= 1000
    error_message = "ingest_max_concurrency must be between 2 and 1000."
  }
}

variable "ingest_batch_size" {
  description = "SQS messages per ingest invocation (each names one or more CloudTrail objects)."
  type        = number
  default     = 10

  validation {
    condition     = var.ingest_batch_size >= 1 && var.ingest_batch_size <= 10000
    error_message = "ingest_batch_size must be between 1 and 10000."
  }
}

variable "ingest_batching_window_seconds" {
  description = "How long the event source mapping gathers messages before invoking (0-300 s). Must be at least 1 when ingest_batch_size is above 10."
  type        = number
  default     = 0

  validation {
    condition     = var.ingest_batching_window_seconds >= 0 && var.ingest_batching_window_seconds <= 300
    error_message = "ingest_batching_window_seconds must be between 0 and 300."
  }
}

variable "object_concurrency" {
  description = "CloudTrail objects one ingest invocation reads at once (TRAILWATCH_MAX_CONCURRENCY, 1-64)."
  type        = number
  default     = 4

  validation {
    condition     = var.object_concurrency >= 1 && var.object_concurrency <= 64 && floor(var.object_concurrency) == var.object_concurrency
    error_message = "object_concurrency must be a whole number from 1 to 64."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a queue message before it moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "enable_xray" {
  description = "Active X-Ray tracing on both functions (and the IAM permissions it needs)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------
# Inputs: CloudTrail
# ---------------------------------------------------------------------------------------

variable "cloudtrail_bucket_name" {
  description = "Existing S3 bucket CloudTrail delivers to (same account and region). null = the module creates one, with the bucket policy CloudTrail needs, for you to point a trail at (output trailwatch_cloudtrail_bucket_name)."
  type        = string
  default     = null
}

variable "cloudtrail_key_prefix" {
  description = "The trail's S3 key prefix, without a trailing slash (\"\" when the trail has none). Objects are read from <prefix>/AWSLogs/ only."
  type        = string
  default     = ""

  validation {
    condition     = !endswith(var.cloudtrail_key_prefix, "/") && !startswith(var.cloudtrail_key_prefix, "/")
    error_message = "cloudtrail_key_prefix must not start or end with a slash."
  }
}

variable "cloudtrail_kms_key_arn" {
  description = "KMS key the existing trail encrypts its log files with (the trail's SSE-KMS key), so the ingest function may decrypt them. null = the objects use SSE-S3."
  type        = string
  default     = null
}

variable "cloudtrail_sns_topic_arn" {
  description = "CloudTrail's own SNS topic (the trail's sns_topic_name). When set, the queue subscribes to it instead of the module adding an S3 event notification to the bucket; use it when the bucket's notifications are managed elsewhere (aws_s3_bucket_notification owns a bucket's whole notification configuration)."
  type        = string
  default     = null
}

variable "cloudtrail_log_group_name" {
  description = "CloudWatch Logs log group the trail also delivers to. When set, the logs function subscribes to it; null = no subscription."
  type        = string
  default     = null
}

variable "logs_filter_pattern" {
  description = "Subscription filter pattern on the CloudTrail log group (\"\" = every event; the node-role detections need calls of every service)."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------------------
# Outputs: alerts and alarms
# ---------------------------------------------------------------------------------------

variable "alert_subscriptions" {
  description = "Subscriptions to the alert topic. protocol is email or https; filter_policy is an optional SNS filter policy (JSON) on the message attributes `severity` and `detection`."
  type = list(object({
    protocol      = string
    endpoint      = string
    filter_policy = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.alert_subscriptions : contains(["email", "https"], s.protocol)])
    error_message = "alert_subscriptions: protocol must be email or https."
  }
}

variable "extra_alarm_actions" {
  description = "ARNs notified by every alarm in addition to the alert topic (an on-call SNS topic, an incident manager response plan...)."
  type        = list(string)
  default     = []
}

variable "irsa_failure_threshold" {
  description = "Alarm when more than this many IRSA exchanges (AssumeRoleWithWebIdentity) fail in 300 s; the guide's alarm uses 5."
  type        = number
  default     = 5
}

variable "pod_identity_failure_threshold" {
  description = "Alarm when more than this many Pod Identity exchanges (AssumeRoleForPodIdentity) fail in 300 s."
  type        = number
  default     = 5
}

variable "lag_threshold_seconds" {
  description = "Alarm when the oldest record processed in 300 s is older than this (now - eventTime). CloudTrail itself delivers within about 15 minutes."
  type        = number
  default     = 3600
}

variable "state_table_deletion_protection" {
  description = "Deletion protection on the DynamoDB state table (dedup claims, thresholds, first-seen baselines). Turn it off before destroying."
  type        = bool
  default     = true
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before the module's KMS key is deleted after destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be between 7 and 30."
  }
}

# ---------------------------------------------------------------------------------------
# trailwatch configuration (rendered into the TOML the functions load; see
# samples/trailwatch.toml and the engine's src/config.rs for the meaning of each key)
# ---------------------------------------------------------------------------------------

variable "metrics_namespace" {
  description = "CloudWatch namespace of trailwatch's metrics ([metrics] namespace): the functions write to it, the alarms and dashboard read it, IAM allows PutMetricData to it only."
  type        = string
  default     = "TrailWatch"

  validation {
    condition     = length(var.metrics_namespace) > 0 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters and must not start with AWS/."
  }
}

variable "metrics_mode" {
  description = "How the functions send metrics ([metrics] mode): api (PutMetricData, aggregated per invocation) or emf (Embedded Metric Format lines in the log group)."
  type        = string
  default     = "api"

  validation {
    condition     = contains(["api", "emf"], var.metrics_mode)
    error_message = "metrics_mode must be api or emf."
  }
}

variable "trusted_accounts" {
  description = "Accounts whose roles the workloads may assume (trusted_accounts; the cross-account detection alerts on any other)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.trusted_accounts : can(regex("^[0-9]{12}$", a))])
    error_message = "trusted_accounts must be 12-digit account ids."
  }
}

variable "clusters" {
  description = "The EKS clusters to watch ([[clusters]]): name, account, region, oidc_provider (issuer host/path without https://), node_roles (node group role ARNs), egress_cidrs (NAT gateway IPs and VPC ranges the cluster's calls come from), vpc_endpoints (ids of the VPC endpoints it uses)."
  type = list(object({
    name          = string
    account       = optional(string)
    region        = optional(string)
    oidc_provider = optional(string)
    node_roles    = optional(list(string), [])
    egress_cidrs  = optional(list(string), [])
    vpc_endpoints = optional(list(string), [])
  }))
  default = []

  validation {
    condition     = length(distinct([for c in var.clusters : c.name])) == length(var.clusters)
    error_message = "clusters: names must be unique."
  }

  validation {
    # The engine takes CIDR blocks and single addresses.
    condition     = alltrue(flatten([for c in var.clusters : [for cidr in c.egress_cidrs : can(cidrhost(cidr, 0)) || can(cidrhost("${cidr}/32", 0)) || can(cidrhost("${cidr}/128", 0))]]))
    error_message = "clusters: every egress_cidrs entry must be a CIDR block such as 52.1.2.3/32 or 10.0.0.0/16, or a single address."
  }
}

variable "bindings" {
  description = "Which service account may use which role ([[bindings]]): cluster (a name from clusters), namespace, service_account, role_arn."
  type = list(object({
    cluster         = string
    namespace       = string
    service_account = string
    role_arn        = string
  }))
  default = []
}

variable "extra_config" {
  description = "TOML appended verbatim to the rendered configuration, for the tables the variables above do not cover: [detections.<id>], [alerts], [input]. Tables only: top-level keys would land in the table before them."
  type        = string
  default     = ""
}

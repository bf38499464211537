# A realistic trailwatch deployment: one EKS cluster "prod" in 111122223333 with IRSA
# and Pod Identity workloads as in the guide (production/order-service,
# production/payment-service, monitoring/prometheus), its node role and its egress.
# Replace the account, cluster and role values with yours.

module "trailwatch" {
  source = "../../modules/trailwatch"

  # Built by `make package` at the repository root (these are the defaults, shown here).
  ingest_package_path = "${path.root}/../../../target/lambda/trailwatch-ingest/bootstrap.zip"
  logs_package_path   = "${path.root}/../../../target/lambda/trailwatch-logs/bootstrap.zip"

  cloudtrail_bucket_name    = var.cloudtrail_bucket_name
  cloudtrail_kms_key_arn    = var.cloudtrail_kms_key_arn
  cloudtrail_log_group_name = var.cloudtrail_log_group_name

  alert_subscriptions = var.alert_email == null ? [] : [
    { protocol = "email", endpoint = var.alert_email },
  ]
  extra_alarm_actions = var.oncall_topic_arn == null ? [] : [var.oncall_topic_arn]

  # The guide's alarm: more than 5 failed IRSA exchanges in 300 s.
  irsa_failure_threshold = 5
  lag_threshold_seconds  = 3600

  # Accounts whose roles our workloads may assume (the cross-account detection).
  trusted_accounts = ["111122223333", "444455556666"]

  clusters = [
    {
      name          = "prod"
      account       = "111122223333"
      region        = "ap-southeast-1"
      oidc_provider = "oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
      node_roles    = ["arn:aws:iam::111122223333:role/prod-node-role"]
      # NAT gateway public IPs and the VPC range: where this cluster's calls come from.
      egress_cidrs = ["52.1.2.3/32", "52.1.2.4/32", "10.0.0.0/16"]
    },
  ]

  bindings = [
    # IRSA: service accounts annotated with eks.amazonaws.com/role-arn.
    {
      cluster         = "prod"
      namespace       = "production"
      service_account = "order-service"
      role_arn        = "arn:aws:iam::111122223333:role/prod-production-order-service"
    },
    {
      cluster         = "prod"
      namespace       = "production"
      service_account = "payment-service"
      role_arn        = "arn:aws:iam::111122223333:role/prod-production-payment-service"
    },
    # Pod Identity association.
    {
      cluster         = "prod"
      namespace       = "monitoring"
      service_account = "prometheus"
      role_arn        = "arn:aws:iam::111122223333:role/prod-monitoring-prometheus"
    },
  ]

  # Detection settings the variables above do not cover, as TOML tables.
  extra_config = <<-TOML
    [detections.node-role-misuse]
    # This node group still runs the cluster autoscaler on the node role (legacy set-up).
    allow_actions = ["autoscaling:Describe*", "autoscaling:SetDesiredCapacity"]

    [detections.long-term-access-key]
    # A known legacy CI user, tracked in a separate ticket.
    allow_principals = ["arn:aws:iam::111122223333:user/legacy-ci"]
  TOML

  tags = {
    Team = "platform"
  }
}

terraform {
  # optional() object attributes with defaults need 1.3; check blocks and
  # preconditions as used here are stable from 1.5.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x: data.aws_region exposes `region` (the `name` attribute is deprecated).
      version = ">= 6.0, < 7.0"
    }
  }
}

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # v6 deprecates data.aws_region's `name`; tested with the 5.x schema.
      version = ">= 5.0, < 6.0"
    }
  }
}

# The region and credentials come from the environment (AWS_REGION,
# AWS_PROFILE, ...), as for the AWS CLI.
provider "aws" {
  default_tags {
    tags = {
      Application = var.name
      ManagedBy   = "terraform: firelens-router examples/terraform/complete"
    }
  }
}

terraform {
  # terraform_data and output preconditions: 1.4. The tests (mock
  # providers) need 1.7 and run with 1.11.
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # v6 deprecates data.aws_region's `name`; tested with the 5.x schema.
      version = ">= 5.0, < 6.0"
    }
  }
}

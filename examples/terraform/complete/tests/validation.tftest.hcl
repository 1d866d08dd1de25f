# The complete example's own inputs, refused at plan (the module's are in
# terraform/modules/firelens-router/tests/validation.tftest.hcl).

mock_provider "aws" {
  source = "../../../terraform/modules/firelens-router/tests/mocks"
}

variables {
  vpc_id              = "vpc-0123456789abcdef0"
  public_subnet_ids   = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
  private_subnet_ids  = ["subnet-0bbbbbbbbbbbbbbb1"]
  allowed_cidr_blocks = ["203.0.113.7/32"]
}

run "malformed_values" {
  command = plan
  variables {
    vpc_id                   = "default"
    public_subnet_ids        = ["subnet-0aaaaaaaaaaaaaaa1"]
    private_subnet_ids       = ["10.0.1.0/24"]
    allowed_cidr_blocks      = ["203.0.113.7"]
    name                     = "Shop_Web"
    app_image                = "python: 3"
    cpu_architecture         = "arm64"
    desired_count            = 0
    router_image             = "firelens-router: 1.0.0"
    image_tag                = "-latest"
    source_dir               = "my checkout"
    alert_email              = "oncall"
    slack_webhook_url        = "http://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
    slack_webhook_secret_arn = "shop-web/slack-webhook"
  }
  expect_failures = [
    var.vpc_id,
    var.public_subnet_ids,
    var.private_subnet_ids,
    var.allowed_cidr_blocks,
    var.name,
    var.app_image,
    var.cpu_architecture,
    var.desired_count,
    var.router_image,
    var.image_tag,
    var.source_dir,
    var.alert_email,
    var.slack_webhook_url,
    var.slack_webhook_secret_arn,
  ]
}

run "no_allowed_addresses" {
  command = plan
  variables {
    allowed_cidr_blocks = []
    private_subnet_ids  = []
  }
  expect_failures = [var.allowed_cidr_blocks, var.private_subnet_ids]
}

# Copied out of the repository, the example cannot build the image.
run "building_without_the_sources" {
  command = plan
  variables {
    source_dir = "/nonexistent"
  }
  expect_failures = [terraform_data.router_image]
}

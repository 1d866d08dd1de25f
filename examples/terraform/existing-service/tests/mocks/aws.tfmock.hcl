# The mocked AWS provider of the existing-service example's tests: the
# module's ARNs as in terraform/modules/firelens-router/tests/mocks, and
# your two roles. Policy documents: an empty policy whose Id names the
# document (the mock cannot render statements).

mock_data "aws_region" {
  defaults = {
    name        = "eu-west-1"
    id          = "eu-west-1"
    endpoint    = "ec2.eu-west-1.amazonaws.com"
    description = "Europe (Ireland)"
  }
}

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    id         = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/terraform"
    user_id    = "AIDAEXAMPLEEXAMPLE000"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    id                 = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json          = "{\"Version\":\"2012-10-17\",\"Id\":\"unnamed\",\"Statement\":[]}"
    minified_json = "{\"Version\":\"2012-10-17\",\"Id\":\"unnamed\",\"Statement\":[]}"
  }
}

override_data {
  target = module.logging.data.aws_iam_policy_document.task
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"module_task\",\"Statement\":[]}" }
}

override_data {
  target = module.logging.data.aws_iam_policy_document.execution
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"module_execution\",\"Statement\":[]}" }
}

# --- Resources: one ARN per type, or per resource where a type has several.

override_data {
  target = data.aws_iam_role.task
  values = {
    arn = "arn:aws:iam::123456789012:role/shop-web-task"
  }
}

override_data {
  target = data.aws_iam_role.execution
  values = {
    arn = "arn:aws:iam::123456789012:role/shop-web-execution"
  }
}

mock_resource "aws_sns_topic" {
  defaults = {
    id  = "arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001"
    arn = "arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001"
  }
}

mock_resource "aws_kms_key" {
  defaults = {
    id     = "1234abcd-12ab-34cd-56ef-1234567890ab"
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    arn    = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = {
    id  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web-slack-webhook-20260101000000000000000003-Xy12Ab"
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web-slack-webhook-20260101000000000000000003-Xy12Ab"
  }
}

mock_resource "aws_kinesis_firehose_delivery_stream" {
  defaults = {
    arn = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/shop-web-logs"
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    id     = "shop-web-logs-20260101000000000000000004"
    bucket = "shop-web-logs-20260101000000000000000004"
    arn    = "arn:aws:s3:::shop-web-logs-20260101000000000000000004"
  }
}

mock_resource "aws_ecs_task_definition" {
  defaults = {
    arn                  = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7"
    arn_without_revision = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web"
    revision             = 7
  }
}

override_resource {
  target = module.logging.aws_cloudwatch_log_group.errors
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/errors" }
}

override_resource {
  target = module.logging.aws_cloudwatch_log_group.router
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/log-router" }
}

override_resource {
  target = module.logging.aws_cloudwatch_log_group.firehose
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesisfirehose/shop-web-logs" }
}

override_resource {
  target = module.logging.aws_iam_role.firehose
  values = {
    id   = "shop-web-firehose-20260101000000000000000007"
    name = "shop-web-firehose-20260101000000000000000007"
    arn  = "arn:aws:iam::123456789012:role/shop-web-firehose-20260101000000000000000007"
  }
}

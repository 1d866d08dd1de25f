# The mocked AWS provider of the module's tests (`mock_provider "aws" {
# source = "./tests/mocks" }`) and of both examples' (source =
# "../../../terraform/modules/firelens-router/tests/mocks", their own
# resources mocked inline): fixed account, region and ARNs, so that
# assertions can name them and the container definitions match each
# tests/fixtures/ byte for byte once decoded. The override_* blocks below
# name the module's resources as its own tests see them; an example's
# module.logging.* is not matched by them, and needs none of them. These
# values exist only after apply, as in AWS: a plan still sees the ARNs as
# unknown, which is what catches a count or for_each that depends on one
# ("Invalid count argument").
#
# Policy documents: the mock cannot render a statement into JSON, so each
# document's JSON is a valid, empty policy whose Id names the document. A
# test checks a document's statements (its arguments, as main.tf wrote
# them) and, through the Id, which document each policy resource or output
# carries.

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
  target = data.aws_iam_policy_document.archive_tls_only
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"archive_tls_only\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.firehose_assume
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"firehose_assume\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.firehose_to_s3
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"firehose_to_s3\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.firehose_logging
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"firehose_logging\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.task_logging
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"task_logging\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.task_alerts
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"task_alerts\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.execution_secrets
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"execution_secrets\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.task
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"task\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.execution
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"execution\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.alerts_key
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"alerts_key\",\"Statement\":[]}" }
}

# --- Resources: one ARN per type, or per resource where a type has several.

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

mock_resource "aws_kms_alias" {
  defaults = {
    arn            = "arn:aws:kms:eu-west-1:123456789012:alias/shop-web-alerts-20260101000000000000000002"
    target_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
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

override_resource {
  target = aws_cloudwatch_log_group.errors
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/errors" }
}

override_resource {
  target = aws_cloudwatch_log_group.router
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/log-router" }
}

override_resource {
  target = aws_cloudwatch_log_group.firehose
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesisfirehose/shop-web-logs" }
}

# The module's one role (the provider checks that Firehose is given an ARN).
mock_resource "aws_iam_role" {
  defaults = {
    id   = "shop-web-firehose-20260101000000000000000007"
    name = "shop-web-firehose-20260101000000000000000007"
    arn  = "arn:aws:iam::123456789012:role/shop-web-firehose-20260101000000000000000007"
  }
}

# The mocked AWS provider of the complete example's tests: fixed account,
# region and ARNs (the module's as in terraform/modules/firelens-router/
# tests/mocks), so that the container definitions match tests/fixtures/
# once decoded. Policy documents: the mock cannot render statements, so
# each document's JSON is an empty policy whose Id names the document; the
# tests check which document each role policy carries, and the example's
# own documents' statements.

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
  target = data.aws_iam_policy_document.ecs_assume
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"ecs_assume\",\"Statement\":[]}" }
}

override_data {
  target = data.aws_iam_policy_document.ecs_exec
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"ecs_exec\",\"Statement\":[]}" }
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

mock_resource "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/shop-web/firelens-router"
    registry_id    = "123456789012"
    repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web/firelens-router"
  }
}

mock_resource "aws_ecs_cluster" {
  defaults = {
    id  = "arn:aws:ecs:eu-west-1:123456789012:cluster/shop-web"
    arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/shop-web"
  }
}

mock_resource "aws_ecs_task_definition" {
  defaults = {
    arn                  = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7"
    arn_without_revision = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web"
    revision             = 7
  }
}

mock_resource "aws_ecs_service" {
  defaults = {
    id = "arn:aws:ecs:eu-west-1:123456789012:service/shop-web/shop-web"
  }
}

mock_resource "aws_lb" {
  defaults = {
    id         = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-web-alb/50dc6c495c0c9188"
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-web-alb/50dc6c495c0c9188"
    arn_suffix = "app/shop-web-alb/50dc6c495c0c9188"
    dns_name   = "shop-web-alb-1234567890.eu-west-1.elb.amazonaws.com"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    id         = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web-app/73e2d6bc24d8a067"
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web-app/73e2d6bc24d8a067"
    arn_suffix = "targetgroup/shop-web-app/73e2d6bc24d8a067"
  }
}

mock_resource "aws_lb_listener" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop-web-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
  }
}

override_resource {
  target = aws_security_group.alb
  values = { id = "sg-0a1b2c3d4e5f60001" }
}

override_resource {
  target = aws_security_group.tasks
  values = { id = "sg-0a1b2c3d4e5f60002" }
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
  target = aws_iam_role.task
  values = {
    id   = "shop-web-logging-20260101000000000000000005"
    name = "shop-web-logging-20260101000000000000000005"
    arn  = "arn:aws:iam::123456789012:role/shop-web-logging-20260101000000000000000005"
  }
}

override_resource {
  target = aws_iam_role.execution
  values = {
    id   = "shop-web-execution-20260101000000000000000006"
    name = "shop-web-execution-20260101000000000000000006"
    arn  = "arn:aws:iam::123456789012:role/shop-web-execution-20260101000000000000000006"
  }
}

override_resource {
  target = module.logging.aws_iam_role.firehose
  values = {
    id   = "shop-web-firehose-20260101000000000000000007"
    name = "shop-web-firehose-20260101000000000000000007"
    arn  = "arn:aws:iam::123456789012:role/shop-web-firehose-20260101000000000000000007"
  }
}

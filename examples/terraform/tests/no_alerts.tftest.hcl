# No alerts configured: the alarms still publish to the topic (nobody
# subscribed yet), and the topic is encrypted with its own key.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  app_image    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_sns_topic_subscription.email) == 0 &&
      length(aws_secretsmanager_secret.slack_webhook) == 0 &&
      length(aws_secretsmanager_secret_version.slack_webhook) == 0 &&
      length(aws_iam_role_policy.execution_secrets) == 0 &&
      length(aws_iam_role_policy.task_alerts) == 0 &&
      length(aws_ecs_service.app) == 0
    )
    error_message = "With no alert variables: no subscription, no Slack secret or its IAM policy, no SNS publish grant, no service."
  }

  assert {
    condition     = length(aws_kms_key.alerts) == 1 && length(aws_kms_alias.alerts) == 1 && aws_kms_key.alerts[0].enable_key_rotation
    error_message = "The topic's customer-managed key is created, with rotation on."
  }

  assert {
    # 10 GiB of spool + 10 GiB reserve: Fargate's default 20 GiB, no block.
    condition     = length(aws_ecs_task_definition.app.ephemeral_storage) == 0
    error_message = "The default spool and reserve fit Fargate's default ephemeral storage: no ephemeral_storage block."
  }

  assert {
    condition     = toset([for v in aws_ecs_task_definition.app.volume : v.name]) == toset(["sink-proxy-spool", "firelens-tmp"])
    error_message = "The task has the sink-proxy-spool and firelens-tmp volumes, nothing else."
  }
}

run "apply" {
  assert {
    condition     = jsondecode(aws_ecs_task_definition.app.container_definitions) == jsondecode(file("tests/fixtures/container-definitions-no-alerts.json"))
    error_message = "The container definitions differ from tests/fixtures/container-definitions-no-alerts.json."
  }

  assert {
    condition = (
      aws_sns_topic.alerts.kms_master_key_id == aws_kms_key.alerts[0].arn &&
      aws_sns_topic.alerts.kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    error_message = "The topic is encrypted with the customer-managed key created here (not alias/aws/sns, which CloudWatch alarms cannot use)."
  }

  assert {
    condition     = jsondecode(aws_kms_key.alerts[0].policy).Id == "alerts_key"
    error_message = "The key's policy is data.aws_iam_policy_document.alerts_key."
  }

  assert {
    condition = length([for s in data.aws_iam_policy_document.alerts_key.statement : s if(
      (s.effect == null || s.effect == "Allow") &&
      toset(flatten([for p in s.principals : p.identifiers if p.type == "Service"])) == toset(["cloudwatch.amazonaws.com"]) &&
      toset(s.actions) == toset(["kms:Decrypt", "kms:GenerateDataKey*"]) &&
      length([for c in s.condition : c if c.test == "StringEquals" && c.variable == "aws:SourceAccount" && toset(c.values) == toset(["123456789012"])]) == 1
    )]) == 1
    error_message = "The key policy lets cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, for this account only (aws:SourceAccount)."
  }

  assert {
    condition = length([for s in data.aws_iam_policy_document.alerts_key.statement : s if(
      toset(flatten([for p in s.principals : p.identifiers if p.type == "AWS"])) == toset(["arn:aws:iam::123456789012:root"]) &&
      toset(s.actions) == toset(["kms:*"])
    )]) == 1
    error_message = "The key policy lets the account root administer the key (else IAM policies could not grant it, and nobody could manage it)."
  }

  assert {
    condition = alltrue([for a in [
      aws_cloudwatch_metric_alarm.errors,
      aws_cloudwatch_metric_alarm.delivery_lag,
      aws_cloudwatch_metric_alarm.dead_letters,
      aws_cloudwatch_metric_alarm.throttling,
    ] : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001"])])
    error_message = "Every alarm's action is the alerts topic."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.errors.ok_actions == toset([aws_sns_topic.alerts.arn]) &&
      aws_cloudwatch_metric_alarm.delivery_lag.ok_actions == toset([aws_sns_topic.alerts.arn])
    )
    error_message = "The errors and delivery-lag alarms tell the topic when they clear."
  }

  assert {
    condition = (
      aws_cloudwatch_log_metric_filter.errors.log_group_name == aws_cloudwatch_log_group.errors.name &&
      aws_cloudwatch_metric_alarm.errors.namespace == aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].namespace &&
      aws_cloudwatch_metric_alarm.errors.metric_name == aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].name
    )
    error_message = "The errors alarm watches the metric the error group's filter makes."
  }

  assert {
    condition = (
      aws_iam_role_policy.task_logging.role == "shop-web-logging-20260101000000000000000005" &&
      jsondecode(aws_iam_role_policy.task_logging.policy).Id == "task_logging"
    )
    error_message = "The task role carries the task_logging policy."
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.task_logging.statement : s.resources if s.sid == "ArchiveEverything"])) == toset(["arn:aws:firehose:eu-west-1:123456789012:deliverystream/shop-web-logs"]) &&
      toset(one([for s in data.aws_iam_policy_document.task_logging.statement : s.resources if s.sid == "AlertOnErrors"])) == toset([
        "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/errors",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/errors:*",
      ]) &&
      toset(one([for s in data.aws_iam_policy_document.task_logging.statement : s.resources if s.sid == "StartupCheck"])) == toset(["arn:aws:logs:eu-west-1:123456789012:log-group:*"])
    )
    error_message = "The task role may write to this delivery stream and this error group only (and describe log groups in this account and region)."
  }

  assert {
    condition = (
      aws_ecs_task_definition.app.task_role_arn == "arn:aws:iam::123456789012:role/shop-web-logging-20260101000000000000000005" &&
      aws_ecs_task_definition.app.execution_role_arn == "arn:aws:iam::123456789012:role/shop-web-execution-20260101000000000000000006" &&
      aws_iam_role_policy_attachment.execution.role == "shop-web-execution-20260101000000000000000006" &&
      aws_iam_role_policy_attachment.execution.policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    )
    error_message = "The task runs with the task and execution roles created here; the execution role has ECS's managed policy."
  }

  assert {
    condition = (
      aws_iam_role_policy.firehose_to_s3.role == "shop-web-firehose-20260101000000000000000007" &&
      toset(one(data.aws_iam_policy_document.firehose_to_s3.statement).resources) == toset(["arn:aws:s3:::shop-web-logs-20260101000000000000000004", "arn:aws:s3:::shop-web-logs-20260101000000000000000004/*"]) &&
      aws_kinesis_firehose_delivery_stream.logs.extended_s3_configuration[0].role_arn == "arn:aws:iam::123456789012:role/shop-web-firehose-20260101000000000000000007" &&
      aws_kinesis_firehose_delivery_stream.logs.extended_s3_configuration[0].bucket_arn == "arn:aws:s3:::shop-web-logs-20260101000000000000000004"
    )
    error_message = "Firehose writes to the archive bucket with its own role, which may write to that bucket only."
  }

  assert {
    condition = (
      output.alerts_topic_arn == "arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001" &&
      output.alerts_kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" &&
      output.task_definition_arn == "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7" &&
      output.task_role_arn == aws_ecs_task_definition.app.task_role_arn &&
      output.execution_role_arn == aws_ecs_task_definition.app.execution_role_arn
    )
    error_message = "The outputs name the topic, the task definition and its roles."
  }
}

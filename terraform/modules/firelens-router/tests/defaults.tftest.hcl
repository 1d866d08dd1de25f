# The module with its defaults: every destination and the topic created,
# no alerts configured. The alarms still publish to the topic (nobody
# subscribed yet), and the topic is encrypted with its own key.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_sns_topic_subscription.email) == 0 &&
      length(aws_secretsmanager_secret.slack_webhook) == 0 &&
      length(aws_secretsmanager_secret_version.slack_webhook) == 0 &&
      length(data.aws_iam_policy_document.execution_secrets) == 0 &&
      length(data.aws_iam_policy_document.task_alerts) == 0
    )
    error_message = "With no alert variables: no subscription, no Slack secret or its IAM statement, no SNS publish grant."
  }

  assert {
    condition = (
      length(aws_cloudwatch_log_group.errors) == 1 &&
      length(aws_s3_bucket.archive) == 1 &&
      length(aws_s3_bucket_server_side_encryption_configuration.archive) == 1 &&
      length(aws_s3_bucket_lifecycle_configuration.archive) == 1 &&
      length(aws_s3_bucket_policy.archive) == 1 &&
      length(aws_s3_bucket_public_access_block.archive) == 1 &&
      length(aws_kinesis_firehose_delivery_stream.logs) == 1 &&
      length(aws_iam_role.firehose) == 1 &&
      length(aws_glue_catalog_table.logs) == 1 &&
      length(aws_sns_topic.alerts) == 1
    )
    error_message = "Every destination is created when none is given."
  }

  assert {
    condition     = length(aws_kms_key.alerts) == 1 && length(aws_kms_alias.alerts) == 1 && aws_kms_key.alerts[0].enable_key_rotation
    error_message = "The topic's customer-managed key is created, with rotation on."
  }

  assert {
    # 10 GiB of spool + 10 GiB reserve: Fargate's default 20 GiB, no block.
    condition     = length(output.ephemeral_storage) == 0 && output.ephemeral_storage_gib == 20
    error_message = "The default spool and reserve fit Fargate's default ephemeral storage: no ephemeral_storage block."
  }

  assert {
    condition     = toset([for v in output.volumes : v.name]) == toset(["sink-proxy-spool", "firelens-tmp"])
    error_message = "The task needs the sink-proxy-spool and firelens-tmp volumes, nothing else."
  }

  assert {
    condition     = aws_s3_bucket.archive[0].force_destroy == false
    error_message = "force_destroy is off unless asked for: terraform destroy keeps a bucket that holds logs (BucketNotEmpty)."
  }
}

run "apply" {
  assert {
    condition = jsondecode(jsonencode(concat(output.container_definitions, [
      merge({ name = "app", image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42", essential = true }, output.app_container_settings),
    ]))) == jsondecode(file("tests/fixtures/container-definitions-no-alerts.json"))
    error_message = "The containers, with an app merged as the outputs say, differ from tests/fixtures/container-definitions-no-alerts.json."
  }

  assert {
    condition = (
      output.sink_proxy_container == output.container_definitions[0] &&
      output.log_router_container == output.container_definitions[1] &&
      output.app_container_settings == { logConfiguration = output.app_log_configuration, dependsOn = output.app_depends_on }
    )
    error_message = "The per-container outputs are the parts of container_definitions and app_container_settings."
  }

  assert {
    condition = (
      output.log_router_container.dependsOn == [{ containerName = "sink-proxy", condition = "HEALTHY" }] &&
      output.app_depends_on == [{ containerName = "log_router", condition = "START" }] &&
      output.sink_proxy_container.healthCheck.command == ["CMD", "/usr/local/bin/sink-proxy", "--check-health"]
    )
    error_message = "Start order: sink-proxy healthy (its health check), then the log router, then the app."
  }

  assert {
    condition     = keys(output.app_log_configuration.options) == ["log-driver-buffer-limit"] && output.app_log_configuration.logDriver == "awsfirelens"
    error_message = "The app's awsfirelens options are log-driver-buffer-limit only: any other option without a Name makes ECS refuse the task."
  }

  assert {
    condition     = output.log_router_container.firelensConfiguration.options["config-file-value"] == "/fluent-bit/firelens/firelens-lean.conf"
    error_message = "The lean include by default."
  }

  assert {
    condition = (
      aws_sns_topic.alerts[0].kms_master_key_id == aws_kms_key.alerts[0].arn &&
      aws_sns_topic.alerts[0].kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
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
    error_message = "The key policy lets cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, for this account only (aws:SourceAccount): the alarms can publish to the encrypted topic."
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
      aws_cloudwatch_metric_alarm.errors.ok_actions == toset([aws_sns_topic.alerts[0].arn]) &&
      aws_cloudwatch_metric_alarm.delivery_lag.ok_actions == toset([aws_sns_topic.alerts[0].arn])
    )
    error_message = "The errors and delivery-lag alarms tell the topic when they clear."
  }

  assert {
    condition = (
      aws_cloudwatch_log_metric_filter.errors.log_group_name == aws_cloudwatch_log_group.errors[0].name &&
      aws_cloudwatch_metric_alarm.errors.namespace == aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].namespace &&
      aws_cloudwatch_metric_alarm.errors.metric_name == aws_cloudwatch_log_metric_filter.errors.metric_transformation[0].name
    )
    error_message = "The errors alarm watches the metric the error group's filter makes."
  }

  assert {
    condition = (
      output.task_role_policy_json == "{\"Version\":\"2012-10-17\",\"Id\":\"task\",\"Statement\":[]}" &&
      tolist(data.aws_iam_policy_document.task.source_policy_documents) == tolist([data.aws_iam_policy_document.task_logging.json]) &&
      output.execution_role_policy_json == "{\"Version\":\"2012-10-17\",\"Id\":\"execution\",\"Statement\":[]}" &&
      length(data.aws_iam_policy_document.execution.source_policy_documents) == 0
    )
    error_message = "The task role's policy is task_logging alone; the execution role's has no secret."
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
      toset(one(data.aws_iam_policy_document.execution.statement).actions) == toset(["logs:CreateLogStream", "logs:PutLogEvents"]) &&
      one(data.aws_iam_policy_document.execution.statement).resources == toset(["arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/log-router:*"])
    )
    error_message = "The execution role may write the containers' own logs to the router group only."
  }

  # Every action on its own resource: each resource is an ARN of the
  # action's service, with no wildcard but a log group's streams (":*") or
  # DescribeLogGroups' log-group space.
  assert {
    condition = alltrue([for s in concat(data.aws_iam_policy_document.task_logging.statement, data.aws_iam_policy_document.execution.statement) : alltrue([
      for a in s.actions : alltrue([for r in s.resources : startswith(r, "arn:aws:") && split(":", r)[2] == split(":", a)[0] && (!strcontains(r, "*") || endswith(r, ":*"))])
    ])])
    error_message = "Every task and execution role action is scoped to a resource of its own service."
  }

  assert {
    condition = (
      aws_iam_role_policy.firehose_to_s3[0].role == "shop-web-firehose-20260101000000000000000007" &&
      toset(one(data.aws_iam_policy_document.firehose_to_s3[0].statement).resources) == toset(["arn:aws:s3:::shop-web-logs-20260101000000000000000004", "arn:aws:s3:::shop-web-logs-20260101000000000000000004/*"]) &&
      aws_kinesis_firehose_delivery_stream.logs[0].extended_s3_configuration[0].role_arn == "arn:aws:iam::123456789012:role/shop-web-firehose-20260101000000000000000007" &&
      aws_kinesis_firehose_delivery_stream.logs[0].extended_s3_configuration[0].bucket_arn == "arn:aws:s3:::shop-web-logs-20260101000000000000000004"
    )
    error_message = "Firehose writes to the archive bucket with its own role, which may write to that bucket only."
  }

  assert {
    condition = (
      toset(one(data.aws_iam_policy_document.firehose_logging[0].statement).resources) == toset(["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesisfirehose/shop-web-logs:*"]) &&
      jsondecode(aws_s3_bucket_policy.archive[0].policy).Id == "archive_tls_only"
    )
    error_message = "Firehose logs its own errors to its group only; the bucket carries the TLS-only policy."
  }

  assert {
    condition = (
      output.alerts_topic_arn == "arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001" &&
      output.alerts_kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" &&
      output.error_log_group_name == "/ecs/shop-web/errors" &&
      output.router_log_group_name == "/ecs/shop-web/log-router" &&
      output.delivery_stream_name == "shop-web-logs" &&
      output.archive_bucket == "shop-web-logs-20260101000000000000000004" &&
      output.athena_table == "shop_web_logs.logs" &&
      output.slack_secret_arn == "" &&
      output.alarm_names == ["shop-web-errors", "shop-web-delivery-lag", "shop-web-dead-letters", "shop-web-firehose-throttling"]
    )
    error_message = "The outputs name what was created."
  }
}

# S3 deletes no bucket that holds objects (BucketNotEmpty): terraform
# destroy of a stack whose bucket holds logs stops there, unless the bucket
# was applied with force_destroy.
run "force_destroy" {
  command = plan
  variables {
    force_destroy = true
  }

  assert {
    condition     = aws_s3_bucket.archive[0].force_destroy
    error_message = "force_destroy lets terraform destroy empty and delete the archive bucket."
  }
}

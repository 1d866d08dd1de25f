# Existing resources reused instead of created: the error log group, the
# archive bucket, the delivery stream, the alerts topic. Each alone, then
# together (every pair of them; an existing bucket with an existing stream
# is refused, see validation.tftest.hcl). Whatever is reused is not
# created, and every grant, environment variable and alarm names it.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
}

run "error_log_group" {
  variables {
    existing_error_log_group_name = "/platform/shop-web/errors"
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.errors) == 0 && length(aws_s3_bucket.archive) == 1 && length(aws_sns_topic.alerts) == 1
    error_message = "Only the error group is reused."
  }

  assert {
    condition = (
      contains(output.sink_proxy_container.environment, { name = "SINK_PROXY_LOG_GROUP", value = "/platform/shop-web/errors" }) &&
      toset(one([for s in data.aws_iam_policy_document.task_logging.statement : s.resources if s.sid == "AlertOnErrors"])) == toset([
        "arn:aws:logs:eu-west-1:123456789012:log-group:/platform/shop-web/errors",
        "arn:aws:logs:eu-west-1:123456789012:log-group:/platform/shop-web/errors:*",
      ]) &&
      aws_cloudwatch_log_metric_filter.errors.log_group_name == "/platform/shop-web/errors" &&
      output.error_log_group_arn == "arn:aws:logs:eu-west-1:123456789012:log-group:/platform/shop-web/errors"
    )
    error_message = "sink-proxy writes errors to the given group, may write there only, and the errors alarm counts its events."
  }
}

run "archive_bucket" {
  variables {
    existing_archive_bucket_name = "platform-log-archive"
  }

  assert {
    condition = (
      length(aws_s3_bucket.archive) == 0 &&
      length(aws_s3_bucket_policy.archive) == 0 &&
      length(aws_s3_bucket_lifecycle_configuration.archive) == 0 &&
      length(aws_kinesis_firehose_delivery_stream.logs) == 1 &&
      length(aws_glue_catalog_table.logs) == 1
    )
    error_message = "The bucket is reused (its policy and lifecycle are its owner's); the stream and the Glue table are created for it."
  }

  assert {
    condition = (
      aws_kinesis_firehose_delivery_stream.logs[0].extended_s3_configuration[0].bucket_arn == "arn:aws:s3:::platform-log-archive" &&
      toset(one(data.aws_iam_policy_document.firehose_to_s3[0].statement).resources) == toset(["arn:aws:s3:::platform-log-archive", "arn:aws:s3:::platform-log-archive/*"]) &&
      aws_glue_catalog_table.logs[0].storage_descriptor[0].location == "s3://platform-log-archive/logs/" &&
      output.archive_bucket == "platform-log-archive"
    )
    error_message = "Firehose writes to the given bucket, may write there only, and Athena reads it."
  }
}

run "delivery_stream" {
  variables {
    existing_delivery_stream_name = "platform-logs"
  }

  assert {
    condition = (
      length(aws_kinesis_firehose_delivery_stream.logs) == 0 &&
      length(aws_s3_bucket.archive) == 0 &&
      length(aws_iam_role.firehose) == 0 &&
      length(aws_cloudwatch_log_group.firehose) == 0 &&
      length(aws_glue_catalog_table.logs) == 0
    )
    error_message = "The stream is reused: no stream, bucket, Firehose role or log, or Glue table is created."
  }

  assert {
    condition = (
      contains(output.sink_proxy_container.environment, { name = "SINK_PROXY_DELIVERY_STREAM", value = "platform-logs" }) &&
      toset(one([for s in data.aws_iam_policy_document.task_logging.statement : s.resources if s.sid == "ArchiveEverything"])) == toset(["arn:aws:firehose:eu-west-1:123456789012:deliverystream/platform-logs"]) &&
      output.delivery_stream_arn == "arn:aws:firehose:eu-west-1:123456789012:deliverystream/platform-logs" &&
      output.archive_bucket == null && output.athena_table == null
    )
    error_message = "sink-proxy sends everything to the given stream and may send there only."
  }
}

run "alerts_topic" {
  variables {
    existing_alerts_topic_arn = "arn:aws:sns:eu-west-1:123456789012:platform-alerts"
    alert_email               = "oncall@example.com"
    proxy_alerts_to_sns       = true
  }

  assert {
    condition     = length(aws_sns_topic.alerts) == 0 && length(aws_kms_key.alerts) == 0 && length(aws_kms_alias.alerts) == 0
    error_message = "The topic is reused: no topic and no key are created."
  }

  assert {
    condition = alltrue([for a in [
      aws_cloudwatch_metric_alarm.errors,
      aws_cloudwatch_metric_alarm.delivery_lag,
      aws_cloudwatch_metric_alarm.dead_letters,
      aws_cloudwatch_metric_alarm.throttling,
    ] : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:platform-alerts"])])
    error_message = "Every alarm publishes to the given topic."
  }

  assert {
    condition = (
      aws_sns_topic_subscription.email[0].topic_arn == "arn:aws:sns:eu-west-1:123456789012:platform-alerts" &&
      contains(output.sink_proxy_container.environment, { name = "SINK_PROXY_ALERT_SNS_TOPIC_ARN", value = "arn:aws:sns:eu-west-1:123456789012:platform-alerts" }) &&
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.resources if s.sid == "AlertsToSns"])) == toset(["arn:aws:sns:eu-west-1:123456789012:platform-alerts"])
    )
    error_message = "The email subscription, sink-proxy's alerts and its publish grant are on the given topic."
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.task_alerts[0].statement : s if s.sid == "AlertsTopicKey"]) == 0 && output.alerts_kms_key_arn == ""
    error_message = "No key given for the topic: no KMS grant (on nothing)."
  }
}

run "group_bucket_and_topic" {
  variables {
    existing_error_log_group_name = "/platform/shop-web/errors"
    existing_archive_bucket_name  = "platform-log-archive"
    existing_alerts_topic_arn     = "arn:aws:sns:eu-west-1:123456789012:platform-alerts"
    alerts_kms_key_arn            = "arn:aws:kms:eu-west-1:123456789012:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"
    proxy_alerts_to_sns           = true
    slack_webhook_secret_arn      = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook-AbCdEf"
  }

  assert {
    condition = (
      length(aws_cloudwatch_log_group.errors) == 0 &&
      length(aws_s3_bucket.archive) == 0 &&
      length(aws_sns_topic.alerts) == 0 &&
      length(aws_kms_key.alerts) == 0 &&
      length(aws_kinesis_firehose_delivery_stream.logs) == 1
    )
    error_message = "Group, bucket and topic reused; the stream created."
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.resources if s.sid == "AlertsTopicKey"])) == toset(["arn:aws:kms:eu-west-1:123456789012:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"]) &&
      output.alerts_kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"
    )
    error_message = "The existing topic's key, given, may be used by the task role to publish."
  }

  assert {
    condition = alltrue([for s in concat(
      data.aws_iam_policy_document.task_logging.statement,
      data.aws_iam_policy_document.task_alerts[0].statement,
      data.aws_iam_policy_document.execution.statement,
      data.aws_iam_policy_document.execution_secrets[0].statement,
      data.aws_iam_policy_document.firehose_to_s3[0].statement,
      ) : alltrue([
        for a in s.actions : alltrue([for r in s.resources : startswith(r, "arn:aws:") && split(":", r)[2] == split(":", a)[0] && (!strcontains(r, "*") || endswith(r, ":*") || endswith(r, "/*"))])
    ])])
    error_message = "Every action is scoped to a reused resource of its own service."
  }
}

run "group_stream_and_topic" {
  variables {
    existing_error_log_group_name = "/platform/shop-web/errors"
    existing_delivery_stream_name = "platform-logs"
    existing_alerts_topic_arn     = "arn:aws:sns:eu-west-1:123456789012:platform-alerts"
    alert_email                   = "oncall@example.com"
    slack_webhook_url             = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
  }

  assert {
    condition = (
      length(aws_cloudwatch_log_group.errors) == 0 &&
      length(aws_kinesis_firehose_delivery_stream.logs) == 0 &&
      length(aws_s3_bucket.archive) == 0 &&
      length(aws_sns_topic.alerts) == 0 &&
      length(aws_glue_catalog_database.logs) == 0
    )
    error_message = "Everything reused but the router log group, the alarms, the dashboard and the Slack secret."
  }

  assert {
    condition = (
      aws_cloudwatch_log_group.router.name == "/ecs/shop-web/log-router" &&
      length(aws_secretsmanager_secret.slack_webhook) == 1 &&
      aws_cloudwatch_dashboard.logging.dashboard_name == "shop-web-logging"
    )
    error_message = "The module's own resources are still created."
  }

  assert {
    condition = (
      contains(output.sink_proxy_container.environment, { name = "SINK_PROXY_LOG_GROUP", value = "/platform/shop-web/errors" }) &&
      contains(output.sink_proxy_container.environment, { name = "SINK_PROXY_DELIVERY_STREAM", value = "platform-logs" })
    )
    error_message = "sink-proxy writes to the reused group and stream."
  }
}

# Inputs that must be refused at plan, each by its own validation or
# precondition (expect_failures names which; a run fails if any one of them
# is accepted). The variables' validations are grouped, one bad value of
# each per run; each precondition has a run of its own.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
}

run "malformed_values" {
  command = plan
  variables {
    name                          = "Shop_Web"
    router_image                  = "firelens-router: 1.0.0"
    include                       = "/fluent-bit/firelens/firelens.yaml"
    log_driver_buffer_limit       = 0
    spool_max_bytes               = 100000000
    ephemeral_storage_reserve_gib = 0
    error_retention_days          = 42
    archive_ia_after_days         = 7
    archive_glacier_after_days    = -1
    archive_expire_after_days     = 1.5
    existing_error_log_group_name = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/shop-web/errors"
    existing_archive_bucket_name  = "s3://shop-web-logs"
    existing_delivery_stream_name = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/shop-web-logs"
    alert_email                   = "oncall"
    alarm_error_threshold         = 0
    slack_webhook_url             = "http://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
    slack_webhook_secret_arn      = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook"
    alerts_kms_key_arn            = "alias/aws/sns"
    existing_alerts_topic_arn     = "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"
  }
  expect_failures = [
    var.name,
    var.router_image,
    var.include,
    var.log_driver_buffer_limit,
    var.spool_max_bytes,
    var.ephemeral_storage_reserve_gib,
    var.error_retention_days,
    var.archive_ia_after_days,
    var.archive_glacier_after_days,
    var.archive_expire_after_days,
    var.existing_error_log_group_name,
    var.existing_archive_bucket_name,
    var.existing_delivery_stream_name,
    var.alert_email,
    var.alarm_error_threshold,
    var.slack_webhook_url,
    var.slack_webhook_secret_arn,
    var.alerts_kms_key_arn,
    var.existing_alerts_topic_arn,
  ]
}

run "more_malformed_values" {
  command = plan
  variables {
    # Too long for the IAM role name prefixes.
    name                    = "a-very-long-application-name"
    include                 = "firelens-lean.conf"
    log_driver_buffer_limit = 536870912
    # The name alone, not the ARN.
    slack_webhook_secret_arn  = "shop-web/slack-webhook-AbCdEf"
    alerts_kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:alias/shop-web-alerts"
    existing_alerts_topic_arn = "shop-web-alerts"
  }
  expect_failures = [
    var.name,
    var.include,
    var.log_driver_buffer_limit,
    var.slack_webhook_secret_arn,
    var.alerts_kms_key_arn,
    var.existing_alerts_topic_arn,
  ]
}

run "secret_arn_of_another_service" {
  command = plan
  variables {
    slack_webhook_secret_arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/shop-web/slack-webhook-AbCdEf"
  }
  expect_failures = [var.slack_webhook_secret_arn]
}

run "both_slack_url_and_secret" {
  command = plan
  variables {
    slack_webhook_url        = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
    slack_webhook_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook-AbCdEf"
  }
  expect_failures = [output.container_definitions]
}

run "archive_steps_out_of_order" {
  command = plan
  variables {
    archive_ia_after_days      = 90
    archive_glacier_after_days = 30
  }
  expect_failures = [aws_s3_bucket_lifecycle_configuration.archive]
}

run "expiry_before_glacier" {
  command = plan
  variables {
    archive_expire_after_days = 60
  }
  expect_failures = [aws_s3_bucket_lifecycle_configuration.archive]
}

run "existing_bucket_with_existing_stream" {
  command = plan
  variables {
    existing_delivery_stream_name = "shop-web-logs"
    existing_archive_bucket_name  = "shop-web-logs"
  }
  expect_failures = [output.delivery_stream_name]
}

# The edges that must pass: shortest archive steps, a 27-character name,
# the largest buffer limit, Standard-IA off, retention for ever, an include
# of one's own.
run "accepted_edges" {
  command = plan
  variables {
    name                       = "a23456789-123456789-1234567"
    archive_ia_after_days      = 0
    archive_glacier_after_days = 1
    archive_expire_after_days  = 2
    log_driver_buffer_limit    = 536870911
    error_retention_days       = 0
    include                    = "/fluent-bit/etc/my-include.conf"
    spool_max_bytes            = 150994944
    alerts_kms_key_arn         = "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
  }

  assert {
    condition     = aws_cloudwatch_log_group.router.name == "/ecs/a23456789-123456789-1234567/log-router"
    error_message = "A 27-character name is accepted."
  }

  assert {
    condition     = output.app_log_configuration.options["log-driver-buffer-limit"] == "536870911"
    error_message = "The largest buffer limit ECS accepts is passed on."
  }
}

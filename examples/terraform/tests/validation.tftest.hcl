# Inputs that must be refused at plan, each by its own validation or
# precondition (expect_failures names which).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  app_image    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
}

run "secret_arn_without_its_random_suffix" {
  command = plan
  variables {
    slack_webhook_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook"
  }
  expect_failures = [var.slack_webhook_secret_arn]
}

run "secret_name_instead_of_arn" {
  command = plan
  variables {
    slack_webhook_secret_arn = "shop-web/slack-webhook-AbCdEf"
  }
  expect_failures = [var.slack_webhook_secret_arn]
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
  expect_failures = [aws_ecs_task_definition.app]
}

run "slack_url_not_https" {
  command = plan
  variables {
    slack_webhook_url = "http://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
  }
  expect_failures = [var.slack_webhook_url]
}

run "kms_alias_instead_of_key_arn" {
  command = plan
  variables {
    alerts_kms_key_arn = "alias/aws/sns"
  }
  expect_failures = [var.alerts_kms_key_arn]
}

run "name_with_upper_case" {
  command = plan
  variables {
    name = "Shop_Web"
  }
  expect_failures = [var.name]
}

run "name_too_long_for_iam_prefixes" {
  command = plan
  variables {
    name = "a-very-long-application-name"
  }
  expect_failures = [var.name]
}

run "cpu_architecture_lower_case" {
  command = plan
  variables {
    cpu_architecture = "arm64"
  }
  expect_failures = [var.cpu_architecture]
}

run "retention_cloudwatch_does_not_offer" {
  command = plan
  variables {
    error_retention_days = 42
  }
  expect_failures = [var.error_retention_days]
}

run "spool_below_sink_proxys_minimum" {
  command = plan
  variables {
    spool_max_bytes = 100000000
  }
  expect_failures = [var.spool_max_bytes]
}

run "reserve_zero" {
  command = plan
  variables {
    ephemeral_storage_reserve_gib = 0
  }
  expect_failures = [var.ephemeral_storage_reserve_gib]
}

run "log_driver_buffer_limit_zero" {
  command = plan
  variables {
    log_driver_buffer_limit = 0
  }
  expect_failures = [var.log_driver_buffer_limit]
}

run "log_driver_buffer_limit_over_ecs_limit" {
  command = plan
  variables {
    log_driver_buffer_limit = 536870912
  }
  expect_failures = [var.log_driver_buffer_limit]
}

run "alert_email_not_an_address" {
  command = plan
  variables {
    alert_email = "oncall"
  }
  expect_failures = [var.alert_email]
}

run "alarm_threshold_zero" {
  command = plan
  variables {
    alarm_error_threshold = 0
  }
  expect_failures = [var.alarm_error_threshold]
}

run "standard_ia_before_30_days" {
  command = plan
  variables {
    archive_ia_after_days = 7
  }
  expect_failures = [var.archive_ia_after_days]
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

run "cluster_arn_malformed" {
  command = plan
  variables {
    cluster_arn = "example"
  }
  expect_failures = [var.cluster_arn]
}

run "service_without_subnets" {
  command = plan
  variables {
    cluster_arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/example"
  }
  expect_failures = [aws_ecs_service.app]
}

run "subnet_id_malformed" {
  command = plan
  variables {
    cluster_arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/example"
    subnet_ids  = ["10.0.0.0/24"]
  }
  expect_failures = [var.subnet_ids]
}

run "security_group_id_malformed" {
  command = plan
  variables {
    security_group_ids = ["default"]
  }
  expect_failures = [var.security_group_ids]
}

run "image_with_spaces" {
  command = plan
  variables {
    router_image = "firelens-router: 1.0.0"
  }
  expect_failures = [var.router_image]
}

# The edges that must pass: shortest archive steps, a 27-character name,
# the largest buffer limit, Standard-IA off.
run "accepted_edges" {
  command = plan
  variables {
    name                       = "a23456789-123456789-1234567"
    archive_ia_after_days      = 0
    archive_glacier_after_days = 1
    archive_expire_after_days  = 2
    log_driver_buffer_limit    = 536870911
    error_retention_days       = 0
  }

  assert {
    condition     = aws_ecs_task_definition.app.family == "a23456789-123456789-1234567"
    error_message = "A 27-character name is accepted."
  }
}

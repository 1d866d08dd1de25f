# For a deployment of the former single-file example (examples/terraform/
# main.tf): its resources, now here and in the module. With its state in
# this directory (`terraform state pull` there, `terraform state push`
# here), the plan moves them instead of replacing them; the archive bucket
# and its logs stay. Without such a state these blocks do nothing.

moved {
  from = aws_cloudwatch_log_group.errors
  to   = module.logging.aws_cloudwatch_log_group.errors[0]
}

moved {
  from = aws_cloudwatch_log_group.router
  to   = module.logging.aws_cloudwatch_log_group.router
}

moved {
  from = aws_kms_key.alerts
  to   = module.logging.aws_kms_key.alerts
}

moved {
  from = aws_kms_alias.alerts
  to   = module.logging.aws_kms_alias.alerts
}

moved {
  from = aws_sns_topic.alerts
  to   = module.logging.aws_sns_topic.alerts[0]
}

moved {
  from = aws_sns_topic_subscription.email
  to   = module.logging.aws_sns_topic_subscription.email
}

moved {
  from = aws_cloudwatch_log_metric_filter.errors
  to   = module.logging.aws_cloudwatch_log_metric_filter.errors
}

moved {
  from = aws_cloudwatch_metric_alarm.errors
  to   = module.logging.aws_cloudwatch_metric_alarm.errors
}

moved {
  from = aws_cloudwatch_metric_alarm.delivery_lag
  to   = module.logging.aws_cloudwatch_metric_alarm.delivery_lag
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letters
  to   = module.logging.aws_cloudwatch_metric_alarm.dead_letters
}

moved {
  from = aws_cloudwatch_metric_alarm.throttling
  to   = module.logging.aws_cloudwatch_metric_alarm.throttling
}

moved {
  from = aws_cloudwatch_dashboard.logging
  to   = module.logging.aws_cloudwatch_dashboard.logging
}

moved {
  from = aws_secretsmanager_secret.slack_webhook
  to   = module.logging.aws_secretsmanager_secret.slack_webhook
}

moved {
  from = aws_secretsmanager_secret_version.slack_webhook
  to   = module.logging.aws_secretsmanager_secret_version.slack_webhook
}

moved {
  from = aws_s3_bucket.archive
  to   = module.logging.aws_s3_bucket.archive[0]
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.archive
  to   = module.logging.aws_s3_bucket_server_side_encryption_configuration.archive[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.archive
  to   = module.logging.aws_s3_bucket_lifecycle_configuration.archive[0]
}

moved {
  from = aws_s3_bucket_policy.archive
  to   = module.logging.aws_s3_bucket_policy.archive[0]
}

moved {
  from = aws_s3_bucket_public_access_block.archive
  to   = module.logging.aws_s3_bucket_public_access_block.archive[0]
}

moved {
  from = aws_iam_role.firehose
  to   = module.logging.aws_iam_role.firehose[0]
}

moved {
  from = aws_iam_role_policy.firehose_logging
  to   = module.logging.aws_iam_role_policy.firehose_logging[0]
}

moved {
  from = aws_iam_role_policy.firehose_to_s3
  to   = module.logging.aws_iam_role_policy.firehose_to_s3[0]
}

moved {
  from = aws_cloudwatch_log_group.firehose
  to   = module.logging.aws_cloudwatch_log_group.firehose[0]
}

moved {
  from = aws_cloudwatch_log_stream.firehose_s3
  to   = module.logging.aws_cloudwatch_log_stream.firehose_s3[0]
}

moved {
  from = aws_kinesis_firehose_delivery_stream.logs
  to   = module.logging.aws_kinesis_firehose_delivery_stream.logs[0]
}

moved {
  from = aws_glue_catalog_database.logs
  to   = module.logging.aws_glue_catalog_database.logs[0]
}

moved {
  from = aws_glue_catalog_table.logs
  to   = module.logging.aws_glue_catalog_table.logs[0]
}

moved {
  from = aws_iam_role_policy.execution_secrets[0]
  to   = aws_iam_role_policy.execution_logging
}

moved {
  from = aws_ecs_service.app[0]
  to   = aws_ecs_service.app
}

# What a task definition takes from the module (examples/terraform/
# existing-service/task-definition.tf):
#
#   container_definitions = jsonencode(concat(module.logging.container_definitions, [
#     merge(local.your_app, module.logging.app_container_settings),
#   ]))
#   dynamic "volume" {
#     for_each = module.logging.volumes
#     content { name = volume.value.name }
#   }
#   dynamic "ephemeral_storage" {
#     for_each = module.logging.ephemeral_storage
#     content { size_in_gib = ephemeral_storage.value.size_in_gib }
#   }
#
# and the roles: task_role_policy_json on the task role,
# execution_role_policy_json on the execution role. The task must use the
# awsvpc network mode (Fargate always does): the log router reaches
# sink-proxy on 127.0.0.1.

# --- For the task definition ---

output "container_definitions" {
  description = "The sink-proxy and log_router container definitions (a list of two objects, ECS's JSON shape): concat your app's containers to it and jsonencode it into the task definition's container_definitions. sink-proxy starts first (health check), log_router when it is HEALTHY; both have read-only root filesystems and log to the router log group"
  value       = [local.sink_proxy_container, local.log_router_container]
  precondition {
    condition     = !(local.slack_from_url && var.slack_webhook_secret_arn != "")
    error_message = "Give slack_webhook_url (a secret is created from it) or slack_webhook_secret_arn (an existing secret), not both."
  }
}

output "sink_proxy_container" {
  description = "The sink-proxy container definition alone (the first of container_definitions)"
  value       = local.sink_proxy_container
}

output "log_router_container" {
  description = "The log_router container definition alone (the second of container_definitions)"
  value       = local.log_router_container
}

output "app_container_settings" {
  description = "Merge into each app container whose logs go through the router: its logConfiguration (awsfirelens with log-driver-buffer-limit, the one option ECS accepts without a Name) and its dependsOn (log_router START). merge() replaces an existing dependsOn: concat app_depends_on to yours instead"
  value = {
    logConfiguration = local.app_log_configuration
    dependsOn        = local.app_depends_on
  }
}

output "app_log_configuration" {
  description = "The app containers' logConfiguration alone: awsfirelens, with log-driver-buffer-limit"
  value       = local.app_log_configuration
}

output "app_depends_on" {
  description = "The app containers' dependsOn entry alone: the log router has started (FireLens requires it)"
  value       = local.app_depends_on
}

output "volumes" {
  description = "The task volumes the two containers mount (on the task's ephemeral storage): a list of { name }, for a dynamic \"volume\" block"
  value       = local.volumes
}

output "ephemeral_storage" {
  description = "The ephemeral storage to ask for: [] when Fargate's default 20 GiB fits the spool and the reserve, else [{ size_in_gib = ceil(spool_max_bytes / 1 GiB) + ephemeral_storage_reserve_gib }], for a dynamic \"ephemeral_storage\" block"
  value       = local.ephemeral_storage_gib > 20 ? [{ size_in_gib = local.ephemeral_storage_gib }] : []
  precondition {
    condition     = local.ephemeral_storage_gib <= 200
    error_message = "The task needs ceil(spool_max_bytes / 1 GiB) + ephemeral_storage_reserve_gib GiB of ephemeral storage, more than Fargate's maximum of 200 GiB: lower spool_max_bytes or ephemeral_storage_reserve_gib."
  }
}

output "ephemeral_storage_gib" {
  description = "The ephemeral storage the task needs, in GiB, whether or not it is above Fargate's default 20"
  value       = local.ephemeral_storage_gib
}

# --- For the roles ---

output "task_role_policy_json" {
  description = "The task role's policy (aws_iam_role_policy): Firehose PutRecordBatch and DescribeDeliveryStream on the stream, CreateLogStream and PutLogEvents on the error group, DescribeLogGroups (the startup check); with proxy_alerts_to_sns, sns:Publish on the topic and its key"
  value       = data.aws_iam_policy_document.task.json
}

output "execution_role_policy_json" {
  description = "The execution role's policy (aws_iam_role_policy): the containers' own logs to the router group, and the Slack secret when there is one. Image pulls are not in it (AmazonECSTaskExecutionRolePolicy has them)"
  value       = data.aws_iam_policy_document.execution.json
}

# --- What it created, or reused ---

output "error_log_group_name" {
  description = "The error log group (created or existing_error_log_group_name)"
  value       = local.error_log_group_name
}

output "error_log_group_arn" {
  description = "The error log group's ARN"
  value       = local.error_log_group_arn
}

output "router_log_group_name" {
  description = "The log group of the log router's and sink-proxy's own logs"
  value       = aws_cloudwatch_log_group.router.name
}

output "delivery_stream_name" {
  description = "The Firehose delivery stream (created or existing_delivery_stream_name)"
  value       = local.delivery_stream_name
  precondition {
    condition     = local.create_stream || var.existing_archive_bucket_name == ""
    error_message = "existing_archive_bucket_name is the bucket of the stream created here: with existing_delivery_stream_name, whose stream writes where it was told, leave it empty."
  }
}

output "delivery_stream_arn" {
  description = "The Firehose delivery stream's ARN"
  value       = local.delivery_stream_arn
}

output "archive_bucket" {
  description = "The S3 bucket the stream writes to (created or existing_archive_bucket_name); null with existing_delivery_stream_name"
  value       = local.create_stream ? local.archive_bucket_name : null
}

output "archive_bucket_arn" {
  description = "The archive bucket's ARN; null with existing_delivery_stream_name"
  value       = local.create_stream ? local.archive_bucket_arn : null
}

output "athena_table" {
  description = "The Glue table over the archive, as database.table, for Athena; null with existing_delivery_stream_name"
  value       = local.create_stream ? "${aws_glue_catalog_database.logs[0].name}.${aws_glue_catalog_table.logs[0].name}" : null
}

output "alerts_topic_arn" {
  description = "The SNS topic the alarms (and proxy_alerts_to_sns) publish to (created or existing_alerts_topic_arn)"
  value       = local.alerts_topic_arn
}

output "alerts_kms_key_arn" {
  description = "The alerts topic's KMS key (created here, or alerts_kms_key_arn); empty for an existing topic given without its key"
  value       = local.alerts_key_arn
}

output "slack_secret_arn" {
  description = "The Secrets Manager secret sink-proxy reads the Slack webhook from (created from slack_webhook_url, or slack_webhook_secret_arn); empty without Slack"
  value       = local.slack_secret_arn
}

output "alarm_names" {
  description = "The CloudWatch alarms, which publish to the topic: errors, delivery lag, dead letters, Firehose throttling"
  value = [
    aws_cloudwatch_metric_alarm.errors.alarm_name,
    aws_cloudwatch_metric_alarm.delivery_lag.alarm_name,
    aws_cloudwatch_metric_alarm.dead_letters.alarm_name,
    aws_cloudwatch_metric_alarm.throttling.alarm_name,
  ]
}

output "dashboard_name" {
  description = "The CloudWatch dashboard over sink-proxy's metrics"
  value       = aws_cloudwatch_dashboard.logging.dashboard_name
}

output "metrics_namespace" {
  description = "The CloudWatch namespace of sink-proxy's EMF metrics and the errors metric"
  value       = local.metrics_namespace
}

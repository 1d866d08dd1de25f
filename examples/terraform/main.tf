# The FireLens setup with the Wasm filter and sink-proxy, mirroring the
# classic one (custom aws-for-fluent-bit image + extra.conf with grep,
# rewrite_tag, record_modifier, cloudwatch_logs and kinesis_firehose outputs):
# errors to a CloudWatch Logs group, everything through Firehose to an
# encrypted S3 bucket, least-privilege IAM. The ECS service, cluster and
# network are yours; this defines the task and what it writes to.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # v6 deprecates data.aws_region's `name`; tested with the 5.x schema.
      version = ">= 5.0, < 6.0"
    }
  }
}

variable "name" {
  description = "Prefix of every resource (the application's name)"
  type        = string
  default     = "shop-web"
}

variable "app_image" {
  description = "The application's image"
  type        = string
}

variable "router_image" {
  description = "The image built by this repository's Dockerfile (log router and sink-proxy)"
  type        = string
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (Graviton); build the router image for the same"
  type        = string
  default     = "X86_64"
}

variable "error_retention_days" {
  description = "Retention of the error log group"
  type        = number
  default     = 30
}

variable "spool_max_bytes" {
  description = "sink-proxy's spool limit on the task's ephemeral storage (20 GiB by default on Fargate, image layers included)"
  type        = number
  default     = 10737418240
}

variable "archive_ia_after_days" {
  description = "Days before archived logs move to S3 Standard-IA (0: never)"
  type        = number
  default     = 30
}

variable "archive_glacier_after_days" {
  description = "Days before archived logs move to S3 Glacier Flexible Retrieval (0: never)"
  type        = number
  default     = 90
}

variable "archive_expire_after_days" {
  description = "Days before archived logs are deleted (0: kept for ever)"
  type        = number
  default     = 365
}

variable "cluster_arn" {
  description = "ECS cluster for the example service; empty: define the task only"
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "Subnets of the example service (with cluster_arn)"
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the example service (with cluster_arn)"
  type        = list(string)
  default     = []
}

variable "alert_email" {
  description = "Email address told when the service logs errors (the alarm below); empty: no subscription"
  type        = string
  default     = ""
}

variable "alarm_error_threshold" {
  description = "Errors in 5 minutes, across all tasks, that raise the alarm"
  type        = number
  default     = 1
}

variable "slack_webhook_url" {
  description = "Slack incoming webhook for sink-proxy's grouped alerts; stored as a Secrets Manager secret (and so in the Terraform state). Empty: no Slack, unless slack_webhook_secret_arn is set"
  type        = string
  default     = ""
  sensitive   = true
}

variable "slack_webhook_secret_arn" {
  description = "An existing Secrets Manager secret holding the Slack webhook URL (instead of slack_webhook_url)"
  type        = string
  default     = ""
}

variable "proxy_alerts_to_sns" {
  description = "Also send each task's grouped alerts to the SNS topic (email); off by default: the alarm already tells email, and Slack carries the detail"
  type        = bool
  default     = false
}

data "aws_region" "current" {}

# --- Errors: CloudWatch Logs --------------------------------------------------

resource "aws_cloudwatch_log_group" "errors" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; a customer-managed key (kms_key_id) is the user's choice and cost
  #checkov:skip=CKV_AWS_338:error retention is a variable (error_retention_days); the full archive lives in S3 for as long as the lifecycle keeps it
  name              = "/ecs/${var.name}/errors"
  retention_in_days = var.error_retention_days
}

# The log router's and the proxy's own logs.
resource "aws_cloudwatch_log_group" "router" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; these are the router's own logs
  #checkov:skip=CKV_AWS_338:the log router's and the proxy's own logs: a week is enough to debug a task
  name              = "/ecs/${var.name}/log-router"
  retention_in_days = 7
}

# --- Telling people: the service-wide alarm, and sink-proxy's own alerts ------
#
# Each task's sink-proxy groups only its own errors (Slack, SNS); the alarm
# counts the error group's events across all tasks, whatever their number.

resource "aws_sns_topic" "alerts" {
  name_prefix       = "${var.name}-alerts-"
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# Every event in the error group is an error (sink-proxy sends only those).
resource "aws_cloudwatch_log_metric_filter" "errors" {
  name           = "${var.name}-errors"
  log_group_name = aws_cloudwatch_log_group.errors.name
  pattern        = ""
  metric_transformation {
    name          = "ErrorEvents"
    namespace     = "FireLens/${var.name}"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "The service logged errors (CloudWatch Logs group ${aws_cloudwatch_log_group.errors.name})"
  namespace           = "FireLens/${var.name}"
  metric_name         = "ErrorEvents"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarm_error_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

# --- Operating it: sink-proxy's EMF metrics on a dashboard, with alarms -------
#
# sink-proxy writes its metrics as EMF to its log (SINK_PROXY_EMF_NAMESPACE
# below), so these exist with no agent. Across tasks they add up.

locals {
  metrics_namespace = "FireLens/${var.name}"
  per_destination   = ["firehose", "cloudwatch_logs", "dead_letter"]
}

resource "aws_cloudwatch_metric_alarm" "delivery_lag" {
  alarm_name          = "${var.name}-delivery-lag"
  alarm_description   = "Logs wait in sink-proxy's spool: AWS throttles or is down, or the task role lost a permission (see /healthz)"
  namespace           = local.metrics_namespace
  metric_name         = "DeliveryLagSeconds"
  dimensions          = { Destination = "firehose" }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 900
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-dead-letters"
  alarm_description   = "Records that could not be read or sent went to the dead-letter place (S3, with the reason)"
  namespace           = local.metrics_namespace
  metric_name         = "DeadLetters"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_metric_alarm" "throttling" {
  alarm_name          = "${var.name}-firehose-throttling"
  alarm_description   = "Firehose throttles for 15 minutes: add delivery streams (SINK_PROXY_DELIVERY_STREAM=a,b) or raise the quota"
  namespace           = local.metrics_namespace
  metric_name         = "Throttles"
  dimensions          = { Destination = "firehose" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 50
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

resource "aws_cloudwatch_dashboard" "logging" {
  dashboard_name = "${var.name}-logging"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Errors per minute"
          region = data.aws_region.current.name
          stat   = "Sum"
          period = 60
          metrics = [
            [local.metrics_namespace, "ErrorsMarked", { label = "errors (marked by the filter)" }],
            [local.metrics_namespace, "AlertErrors", { label = "errors that alert" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "Delivery lag (oldest undelivered record, seconds)"
          region  = data.aws_region.current.name
          stat    = "Maximum"
          period  = 60
          metrics = [for d in local.per_destination : [local.metrics_namespace, "DeliveryLagSeconds", "Destination", d]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Records in and delivered"
          region = data.aws_region.current.name
          stat   = "Sum"
          period = 60
          metrics = concat(
            [[local.metrics_namespace, "RecordsIn"]],
            [for d in local.per_destination : [local.metrics_namespace, "DeliveredRecords", "Destination", d]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Throttling, retries, failures, dead letters"
          region = data.aws_region.current.name
          stat   = "Sum"
          period = 60
          metrics = concat(
            [for d in ["firehose", "cloudwatch_logs"] : [local.metrics_namespace, "Throttles", "Destination", d]],
            [for d in ["firehose", "cloudwatch_logs"] : [local.metrics_namespace, "Retries", "Destination", d]],
            [for d in ["firehose", "cloudwatch_logs"] : [local.metrics_namespace, "Failures", "Destination", d]],
            [[local.metrics_namespace, "DeadLetters"]],
          )
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title   = "Spool on disk (bytes, per task summed)"
          region  = data.aws_region.current.name
          stat    = "Maximum"
          period  = 60
          metrics = [[local.metrics_namespace, "SpoolBytes"], [local.metrics_namespace, "SpoolFull", { stat = "Sum" }]]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "Alerts sent and dropped"
          region = data.aws_region.current.name
          stat   = "Sum"
          period = 300
          metrics = flatten([for a in ["slack", "webhook", "sns"] : [
            [local.metrics_namespace, "AlertsSent", "AlertDestination", a],
            [local.metrics_namespace, "AlertsDropped", "AlertDestination", a],
          ]])
        }
      },
    ]
  })
}

# The Slack webhook URL is a secret: ECS injects it into sink-proxy's
# environment (`secrets` below); it is never in a file or a log.
resource "aws_secretsmanager_secret" "slack_webhook" {
  #checkov:skip=CKV_AWS_149:encrypted with the account's aws/secretsmanager key; a customer-managed key is the user's choice
  #checkov:skip=CKV2_AWS_57:a Slack webhook URL cannot be rotated by Secrets Manager; revoke it in Slack and update the secret
  count       = local.slack_from_url ? 1 : 0
  name_prefix = "${var.name}-slack-webhook-"
}

resource "aws_secretsmanager_secret_version" "slack_webhook" {
  count         = local.slack_from_url ? 1 : 0
  secret_id     = aws_secretsmanager_secret.slack_webhook[0].id
  secret_string = var.slack_webhook_url
}

locals {
  # Whether a URL was given is not secret (count cannot use a sensitive value).
  slack_from_url = nonsensitive(var.slack_webhook_url != "")
  slack_secret_arn = var.slack_webhook_secret_arn != "" ? var.slack_webhook_secret_arn : (
    local.slack_from_url ? aws_secretsmanager_secret.slack_webhook[0].arn : ""
  )
}

# --- Everything: Firehose to S3 -----------------------------------------------

resource "aws_s3_bucket" "archive" {
  #checkov:skip=CKV_AWS_18:server access logging needs a second bucket; CloudTrail data events are the user's choice
  #checkov:skip=CKV2_AWS_62:nothing consumes object events; Athena reads the archive through the Glue table
  #checkov:skip=CKV_AWS_144:cross-region replication doubles the storage bill of a log archive; the user's choice
  #checkov:skip=CKV_AWS_21:Firehose writes each object once and the lifecycle expires it; versioning would keep expired logs
  bucket_prefix = "${var.name}-logs-"
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

# Cheap long-term storage: colder classes as logs age, then expiry.
resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    id     = "age-out-logs"
    status = "Enabled"
    filter {}
    dynamic "transition" {
      for_each = var.archive_ia_after_days > 0 ? [1] : []
      content {
        days          = var.archive_ia_after_days
        storage_class = "STANDARD_IA"
      }
    }
    dynamic "transition" {
      for_each = var.archive_glacier_after_days > 0 ? [1] : []
      content {
        days          = var.archive_glacier_after_days
        storage_class = "GLACIER"
      }
    }
    dynamic "expiration" {
      for_each = var.archive_expire_after_days > 0 ? [1] : []
      content {
        days = var.archive_expire_after_days
      }
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# TLS only: any request over plain HTTP is denied.
data "aws_iam_policy_document" "archive_tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "archive" {
  bucket = aws_s3_bucket.archive.id
  policy = data.aws_iam_policy_document.archive_tls_only.json
  # The policy after the public access block, which would otherwise race it.
  depends_on = [aws_s3_bucket_public_access_block.archive]
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket                  = aws_s3_bucket.archive.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name_prefix        = "${var.name}-firehose-"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose_to_s3" {
  statement {
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetBucketLocation",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
      "s3:PutObject",
    ]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]
  }
}

data "aws_iam_policy_document" "firehose_logging" {
  statement {
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose_logging" {
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose_logging.json
}

resource "aws_iam_role_policy" "firehose_to_s3" {
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose_to_s3.json
}

# Firehose's own delivery errors (S3 denied, bucket gone) are logged here.
resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; Firehose's delivery errors only
  #checkov:skip=CKV_AWS_338:Firehose's delivery errors: two weeks to act on an alarm
  name              = "/aws/kinesisfirehose/${var.name}-logs"
  retention_in_days = 14
}

resource "aws_cloudwatch_log_stream" "firehose_s3" {
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_kinesis_firehose_delivery_stream" "logs" {
  #checkov:skip=CKV_AWS_241:encrypted with an AWS-owned key (server_side_encryption below); a customer-managed key is the user's choice and cost
  name        = "${var.name}-logs"
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "AWS_OWNED_CMK"
  }

  extended_s3_configuration {
    role_arn   = aws_iam_role.firehose.arn
    bucket_arn = aws_s3_bucket.archive.arn
    prefix     = "logs/"
    # sink-proxy sends plain records (many newline-terminated lines each);
    # Firehose compresses the objects it writes.
    compression_format  = "GZIP"
    buffering_size      = 64
    buffering_interval  = 300
    error_output_prefix = "errors/"

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose_s3.name
    }
  }
}

# --- Querying the archive: a Glue table for Athena ----------------------------
#
# Firehose writes logs/YYYY/MM/DD/HH/<objects>.gz, one JSON record per line.
# Partition projection finds the hours without a crawler:
#   SELECT date, container_name, log FROM "<database>"."logs"
#   WHERE dt BETWEEN '2026/11/29/00' AND '2026/11/29/23' AND log_class = 'error';

resource "aws_glue_catalog_database" "logs" {
  name = replace("${var.name}_logs", "-", "_")
}

resource "aws_glue_catalog_table" "logs" {
  name          = "logs"
  database_name = aws_glue_catalog_database.logs.name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    "classification"              = "json"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy/MM/dd/HH"
    "projection.dt.range"         = "2024/01/01/00,NOW"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "HOURS"
    "storage.location.template"   = "s3://${aws_s3_bucket.archive.id}/logs/$${dt}/"
  }
  partition_keys {
    name = "dt"
    type = "string"
  }
  storage_descriptor {
    location      = "s3://${aws_s3_bucket.archive.id}/logs/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters            = { "ignore.malformed.json" = "true" }
    }
    columns {
      name = "date"
      type = "double"
    }
    columns {
      name = "container_name"
      type = "string"
    }
    columns {
      name = "container_id"
      type = "string"
    }
    columns {
      name = "ecs_cluster"
      type = "string"
    }
    columns {
      name = "ecs_task_arn"
      type = "string"
    }
    columns {
      name = "ecs_task_definition"
      type = "string"
    }
    columns {
      name = "source"
      type = "string"
    }
    columns {
      name = "log"
      type = "string"
    }
    columns {
      name = "log_class"
      type = "string"
    }
  }
}

# --- The task ------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The task role: what sink-proxy needs, nothing more. Terraform creates the
# group (with its retention), so no logs:CreateLogGroup.
resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-logging-"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "task_logging" {
  statement {
    sid = "ArchiveEverything"
    # Describe: sink-proxy's startup check (a wrong stream or role fails the
    # container health check, and the deployment rolls back).
    actions   = ["firehose:PutRecordBatch", "firehose:DescribeDeliveryStream"]
    resources = [aws_kinesis_firehose_delivery_stream.logs.arn]
  }
  statement {
    sid = "StartupCheck"
    # DescribeLogGroups is authorised on the account's log-group resource
    # space; the proxy asks only for its own group's name.
    actions   = ["logs:DescribeLogGroups"]
    resources = ["arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
  }
  statement {
    sid       = "AlertOnErrors"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [aws_cloudwatch_log_group.errors.arn, "${aws_cloudwatch_log_group.errors.arn}:*"]
  }
}

resource "aws_iam_role_policy" "task_logging" {
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_logging.json
}

data "aws_iam_policy_document" "task_alerts" {
  statement {
    sid       = "AlertsToSns"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

resource "aws_iam_role_policy" "task_alerts" {
  count  = var.proxy_alerts_to_sns ? 1 : 0
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_alerts.json
}

# The execution role: pull images, write the containers' own logs.
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-execution-"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# ECS reads the Slack secret with the execution role, at task start.
data "aws_iam_policy_document" "execution_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.slack_secret_arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count  = local.slack_secret_arn == "" ? 0 : 1
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

locals {
  router_logs = {
    logDriver = "awslogs"
    options = {
      awslogs-group  = aws_cloudwatch_log_group.router.name
      awslogs-region = data.aws_region.current.name
    }
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = var.name
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = 512
  memory                   = 1024
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    cpu_architecture        = var.cpu_architecture
    operating_system_family = "LINUX"
  }

  # Start order: sink-proxy (healthy), then the log router, then the app.
  # ECS stops them in reverse: the app, the log router (flushing its last
  # chunks to the proxy), then the proxy (finishing them, see README).
  container_definitions = jsonencode([
    {
      name        = "sink-proxy"
      image       = var.router_image
      essential   = true
      user        = "10001"
      entryPoint  = ["/usr/local/bin/sink-proxy"]
      stopTimeout = 30
      # Its in-flight budget (64 MiB) plus the runtime: measured peaks stay
      # under 100 MiB (README: "Memory"); a soft limit.
      memoryReservation = 128
      environment = concat([
        { name = "SINK_PROXY_LOG_GROUP", value = aws_cloudwatch_log_group.errors.name },
        { name = "SINK_PROXY_DELIVERY_STREAM", value = aws_kinesis_firehose_delivery_stream.logs.name },
        { name = "SINK_PROXY_LOG_FORMAT", value = "json" },
        # Chunks are acknowledged once on this disk (README: "The spool").
        { name = "SINK_PROXY_SPOOL_DIR", value = "/var/lib/sink-proxy/spool" },
        { name = "SINK_PROXY_SPOOL_MAX_BYTES", value = tostring(var.spool_max_bytes) },
        # Its metrics as EMF on stdout, every 60 s: CloudWatch metrics with no agent.
        { name = "SINK_PROXY_EMF_NAMESPACE", value = local.metrics_namespace },
        ], var.proxy_alerts_to_sns ? [
        { name = "SINK_PROXY_ALERT_SNS_TOPIC_ARN", value = aws_sns_topic.alerts.arn },
      ] : [])
      # Grouped alerts to Slack (README: "Alerts"), from Secrets Manager.
      secrets = local.slack_secret_arn == "" ? [] : [
        { name = "SINK_PROXY_SLACK_WEBHOOK_URL", valueFrom = local.slack_secret_arn },
      ]
      healthCheck = {
        command     = ["CMD", "/usr/local/bin/sink-proxy", "--check-health"]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 5
      }
      logConfiguration = merge(local.router_logs, {
        options = merge(local.router_logs.options, { awslogs-stream-prefix = "sink-proxy" })
      })
    },
    {
      name              = "log_router"
      image             = var.router_image
      essential         = true
      stopTimeout       = 30
      memoryReservation = 100
      firelensConfiguration = {
        type = "fluentbit"
        options = {
          config-file-type        = "file"
          config-file-value       = "/fluent-bit/firelens/firelens-lean.conf"
          enable-ecs-log-metadata = "true"
        }
      }
      dependsOn = [{ containerName = "sink-proxy", condition = "HEALTHY" }]
      logConfiguration = merge(local.router_logs, {
        options = merge(local.router_logs.options, { awslogs-stream-prefix = "fluent-bit" })
      })
    },
    {
      name      = "app"
      image     = var.app_image
      essential = true
      dependsOn = [{ containerName = "log_router", condition = "START" }]
      # Non-blocking: the app never stalls on logging; it drops only if the
      # router stops reading for longer than this buffer lasts, which the
      # proxy's spool makes a matter of a dead router, not of a slow AWS.
      logConfiguration = {
        logDriver = "awsfirelens"
        options   = { mode = "non-blocking", max-buffer-size = "25m" }
      }
    },
  ])
}

# The service (optional): a deployment whose tasks fail sink-proxy's startup
# check (a wrong stream, a role without permissions) is rolled back by the
# deployment circuit breaker instead of replacing tasks for ever.
resource "aws_ecs_service" "app" {
  count           = var.cluster_arn == "" ? 0 : 1
  name            = var.name
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.app.arn
  desired_count   = 2
  launch_type     = "FARGATE"

  network_configuration {
    subnets         = var.subnet_ids
    security_groups = var.security_group_ids
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

output "task_definition_arn" {
  value = aws_ecs_task_definition.app.arn
}

output "archive_bucket" {
  value = aws_s3_bucket.archive.id
}

output "error_log_group" {
  value = aws_cloudwatch_log_group.errors.name
}

output "alerts_topic_arn" {
  value = aws_sns_topic.alerts.arn
}

output "task_role_arn" {
  value = aws_iam_role.task.arn
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}

output "delivery_stream_name" {
  value = aws_kinesis_firehose_delivery_stream.logs.name
}

output "archive_bucket_arn" {
  value = aws_s3_bucket.archive.arn
}

output "dashboard_name" {
  value = aws_cloudwatch_dashboard.logging.dashboard_name
}

output "athena_table" {
  value = "${aws_glue_catalog_database.logs.name}.${aws_glue_catalog_table.logs.name}"
}

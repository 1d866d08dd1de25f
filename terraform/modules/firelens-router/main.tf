# The FireLens log router as a module: what the log router and sink-proxy
# write to (errors to a CloudWatch Logs group, everything through Firehose
# to an encrypted S3 bucket), who is told (alarms to an SNS topic under a
# customer-managed KMS key, Slack through a Secrets Manager secret), and the
# two containers to add to a task definition, with the IAM policies its
# task and execution roles need. The cluster, the service, the task
# definition, the roles and the network stay yours: see outputs.tf, and
# examples/terraform/complete and examples/terraform/existing-service.

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# What is created and what is reused. Every count and condition uses these,
# known from the variables alone at plan time, never a new resource's ARN
# (which a plan does not know: "Invalid count argument").
locals {
  create_error_group = var.existing_error_log_group_name == ""
  create_stream      = var.existing_delivery_stream_name == ""
  # The bucket is the one the stream created here writes to.
  create_bucket     = local.create_stream && var.existing_archive_bucket_name == ""
  create_topic      = var.existing_alerts_topic_arn == ""
  create_alerts_key = local.create_topic && var.alerts_kms_key_arn == ""
  # Whether the topic has a key the task role must be allowed to use.
  alerts_key_known = local.create_alerts_key || var.alerts_kms_key_arn != ""

  arn_prefix = "arn:${data.aws_partition.current.partition}"
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # The errors metric's and sink-proxy's EMF metrics' namespace.
  metrics_namespace = "FireLens/${var.name}"
}

# --- Errors: CloudWatch Logs --------------------------------------------------

resource "aws_cloudwatch_log_group" "errors" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; a customer-managed key (kms_key_id) is the user's choice and cost
  #checkov:skip=CKV_AWS_338:error retention is a variable (error_retention_days); the full archive lives in S3 for as long as the lifecycle keeps it
  count             = local.create_error_group ? 1 : 0
  name              = "/ecs/${var.name}/errors"
  retention_in_days = var.error_retention_days
}

locals {
  # The resource's attributes, not the name it is given: whatever uses them
  # (the containers' environment) is then created after the group.
  error_log_group_name = local.create_error_group ? aws_cloudwatch_log_group.errors[0].name : var.existing_error_log_group_name
  error_log_group_arn  = local.create_error_group ? aws_cloudwatch_log_group.errors[0].arn : "${local.arn_prefix}:logs:${local.region}:${local.account_id}:log-group:${var.existing_error_log_group_name}"
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

# The topic's key is customer-managed, not the AWS-managed alias/aws/sns:
# that key's policy cannot be changed and does not let CloudWatch use it, so
# an alarm's publish fails (alarm history: KMS AccessDenied) and nobody is
# told. This key lets CloudWatch alarms of this account, and (by IAM, below)
# the task role, encrypt messages for the topic.
resource "aws_kms_key" "alerts" {
  count                   = local.create_alerts_key ? 1 : 0
  description             = "${var.name}: the alerts SNS topic (CloudWatch alarms and sink-proxy publish to it)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alerts_key.json
}

resource "aws_kms_alias" "alerts" {
  count         = local.create_alerts_key ? 1 : 0
  name_prefix   = "alias/${var.name}-alerts-"
  target_key_id = aws_kms_key.alerts[0].key_id
}

data "aws_iam_policy_document" "alerts_key" {
  #checkov:skip=CKV_AWS_109:a key policy's "*" resource is this key only; the account root administers it, as KMS's default policy does
  #checkov:skip=CKV_AWS_111:a key policy's "*" resource is this key only; CloudWatch may only encrypt and decrypt, for this account
  #checkov:skip=CKV_AWS_356:a key policy's "*" resource is this key only
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["${local.arn_prefix}:iam::${local.account_id}:root"]
    }
  }
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

locals {
  # The created key, the given one, or none (an existing topic without
  # alerts_kms_key_arn).
  alerts_key_arn = local.create_alerts_key ? aws_kms_key.alerts[0].arn : var.alerts_kms_key_arn
}

resource "aws_sns_topic" "alerts" {
  count             = local.create_topic ? 1 : 0
  name_prefix       = "${var.name}-alerts-"
  kms_master_key_id = local.alerts_key_arn
}

locals {
  alerts_topic_arn = local.create_topic ? aws_sns_topic.alerts[0].arn : var.existing_alerts_topic_arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == "" ? 0 : 1
  topic_arn = local.alerts_topic_arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# Every event in the error group is an error (sink-proxy sends only those).
resource "aws_cloudwatch_log_metric_filter" "errors" {
  name           = "${var.name}-errors"
  log_group_name = local.error_log_group_name
  pattern        = ""
  metric_transformation {
    name          = "ErrorEvents"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "The service logged errors (CloudWatch Logs group ${local.error_log_group_name})"
  namespace           = local.metrics_namespace
  metric_name         = "ErrorEvents"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarm_error_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alerts_topic_arn]
  ok_actions          = [local.alerts_topic_arn]
}

# --- Operating it: sink-proxy's EMF metrics on a dashboard, with alarms -------
#
# sink-proxy writes its metrics as EMF to its log (SINK_PROXY_EMF_NAMESPACE
# below), so these exist with no agent. Across tasks they add up.

locals {
  per_destination = ["firehose", "cloudwatch_logs", "dead_letter"]
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
  alarm_actions       = [local.alerts_topic_arn]
  ok_actions          = [local.alerts_topic_arn]
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
  alarm_actions       = [local.alerts_topic_arn]
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
  alarm_actions       = [local.alerts_topic_arn]
}

resource "aws_cloudwatch_dashboard" "logging" {
  dashboard_name = "${var.name}-logging"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Errors per minute"
          region = local.region
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
          region  = local.region
          stat    = "Maximum"
          period  = 60
          metrics = [for d in local.per_destination : [local.metrics_namespace, "DeliveryLagSeconds", "Destination", d]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Records in and delivered"
          region = local.region
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
          region = local.region
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
          region  = local.region
          stat    = "Maximum"
          period  = 60
          metrics = [[local.metrics_namespace, "SpoolBytes"], [local.metrics_namespace, "SpoolFull", { stat = "Sum" }]]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "Alerts sent and dropped"
          region = local.region
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
  # Whether a URL was given is not secret, and count cannot use a sensitive
  # value: nonsensitive() on the boolean only, never on the URL.
  slack_from_url = nonsensitive(var.slack_webhook_url != "")
  # Known at plan time (from the variables alone): every count and condition
  # about Slack uses this, never the secret's ARN, which a new secret only
  # has after apply ("Invalid count argument").
  slack_enabled = local.slack_from_url || var.slack_webhook_secret_arn != ""
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
  count         = local.create_bucket ? 1 : 0
  bucket_prefix = "${var.name}-logs-"
  # S3 deletes no bucket that holds objects; with this on, `terraform
  # destroy` empties it first. Read from the state: apply it, then destroy.
  force_destroy = var.force_destroy
}

locals {
  # The bucket the stream created here writes to: created or given.
  archive_bucket_name = local.create_bucket ? aws_s3_bucket.archive[0].id : var.existing_archive_bucket_name
  archive_bucket_arn  = local.create_bucket ? aws_s3_bucket.archive[0].arn : "${local.arn_prefix}:s3:::${var.existing_archive_bucket_name}"
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  count  = local.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.archive[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

# Cheap long-term storage: colder classes as logs age, then expiry.
resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  count  = local.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.archive[0].id
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

  lifecycle {
    # S3 refuses a rule whose steps are out of order.
    precondition {
      condition = (
        (var.archive_ia_after_days == 0 || var.archive_glacier_after_days == 0 || var.archive_glacier_after_days > var.archive_ia_after_days) &&
        (var.archive_expire_after_days == 0 || var.archive_expire_after_days > max(var.archive_ia_after_days, var.archive_glacier_after_days))
      )
      error_message = "The archive's steps must come in order: archive_ia_after_days < archive_glacier_after_days < archive_expire_after_days (each step that is not 0)."
    }
  }
}

# TLS only: any request over plain HTTP is denied.
data "aws_iam_policy_document" "archive_tls_only" {
  count = local.create_bucket ? 1 : 0
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.archive[0].arn, "${aws_s3_bucket.archive[0].arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "archive" {
  count  = local.create_bucket ? 1 : 0
  bucket = aws_s3_bucket.archive[0].id
  policy = data.aws_iam_policy_document.archive_tls_only[0].json
  # The policy after the public access block, which would otherwise race it.
  depends_on = [aws_s3_bucket_public_access_block.archive]
}

resource "aws_s3_bucket_public_access_block" "archive" {
  count                   = local.create_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.archive[0].id
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
  count              = local.create_stream ? 1 : 0
  name_prefix        = "${var.name}-firehose-"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose_to_s3" {
  count = local.create_stream ? 1 : 0
  statement {
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetBucketLocation",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
      "s3:PutObject",
    ]
    resources = [local.archive_bucket_arn, "${local.archive_bucket_arn}/*"]
  }
}

data "aws_iam_policy_document" "firehose_logging" {
  count = local.create_stream ? 1 : 0
  statement {
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose_logging" {
  count  = local.create_stream ? 1 : 0
  role   = aws_iam_role.firehose[0].id
  policy = data.aws_iam_policy_document.firehose_logging[0].json
}

resource "aws_iam_role_policy" "firehose_to_s3" {
  count  = local.create_stream ? 1 : 0
  role   = aws_iam_role.firehose[0].id
  policy = data.aws_iam_policy_document.firehose_to_s3[0].json
}

# Firehose's own delivery errors (S3 denied, bucket gone) are logged here.
resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts at rest by default; Firehose's delivery errors only
  #checkov:skip=CKV_AWS_338:Firehose's delivery errors: two weeks to act on an alarm
  count             = local.create_stream ? 1 : 0
  name              = "/aws/kinesisfirehose/${var.name}-logs"
  retention_in_days = 14
}

resource "aws_cloudwatch_log_stream" "firehose_s3" {
  count          = local.create_stream ? 1 : 0
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose[0].name
}

resource "aws_kinesis_firehose_delivery_stream" "logs" {
  #checkov:skip=CKV_AWS_241:encrypted with an AWS-owned key (server_side_encryption below); a customer-managed key is the user's choice and cost
  count       = local.create_stream ? 1 : 0
  name        = "${var.name}-logs"
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "AWS_OWNED_CMK"
  }

  extended_s3_configuration {
    role_arn   = aws_iam_role.firehose[0].arn
    bucket_arn = local.archive_bucket_arn
    prefix     = "logs/"
    # sink-proxy sends plain records (many newline-terminated lines each);
    # Firehose compresses the objects it writes.
    compression_format  = "GZIP"
    buffering_size      = 64
    buffering_interval  = 300
    error_output_prefix = "errors/"

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose[0].name
      log_stream_name = aws_cloudwatch_log_stream.firehose_s3[0].name
    }
  }

  # The role may write to the bucket before Firehose checks that it can.
  depends_on = [aws_iam_role_policy.firehose_to_s3]
}

locals {
  delivery_stream_name = local.create_stream ? aws_kinesis_firehose_delivery_stream.logs[0].name : var.existing_delivery_stream_name
  delivery_stream_arn  = local.create_stream ? aws_kinesis_firehose_delivery_stream.logs[0].arn : "${local.arn_prefix}:firehose:${local.region}:${local.account_id}:deliverystream/${var.existing_delivery_stream_name}"
}

# --- Querying the archive: a Glue table for Athena ----------------------------
#
# The stream created here writes logs/YYYY/MM/DD/HH/<objects>.gz, one JSON record per line.
# Partition projection finds the hours without a crawler:
#   SELECT date, container_name, log FROM "<database>"."logs"
#   WHERE dt BETWEEN '2026/11/29/00' AND '2026/11/29/23' AND log_class = 'error';

resource "aws_glue_catalog_database" "logs" {
  count = local.create_stream ? 1 : 0
  name  = replace("${var.name}_logs", "-", "_")
}

resource "aws_glue_catalog_table" "logs" {
  count         = local.create_stream ? 1 : 0
  name          = "logs"
  database_name = aws_glue_catalog_database.logs[0].name
  table_type    = "EXTERNAL_TABLE"
  parameters = {
    "classification"              = "json"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy/MM/dd/HH"
    "projection.dt.range"         = "2024/01/01/00,NOW"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "HOURS"
    "storage.location.template"   = "s3://${local.archive_bucket_name}/logs/$${dt}/"
  }
  partition_keys {
    name = "dt"
    type = "string"
  }
  storage_descriptor {
    location      = "s3://${local.archive_bucket_name}/logs/"
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

# --- The task's roles: the policies to attach --------------------------------
#
# The roles are yours (outputs task_role_policy_json and
# execution_role_policy_json); every statement names its resource.

# The task role: what sink-proxy needs, nothing more. Terraform creates the
# group (with its retention), so no logs:CreateLogGroup.
data "aws_iam_policy_document" "task_logging" {
  statement {
    sid = "ArchiveEverything"
    # Describe: sink-proxy's startup check (a wrong stream or role fails the
    # container health check, and the deployment rolls back).
    actions   = ["firehose:PutRecordBatch", "firehose:DescribeDeliveryStream"]
    resources = [local.delivery_stream_arn]
  }
  statement {
    sid = "StartupCheck"
    # DescribeLogGroups is authorised on the account's log-group resource
    # space; the proxy asks only for its own group's name.
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.arn_prefix}:logs:${local.region}:${local.account_id}:log-group:*"]
  }
  statement {
    sid       = "AlertOnErrors"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [local.error_log_group_arn, "${local.error_log_group_arn}:*"]
  }
}

data "aws_iam_policy_document" "task_alerts" {
  count = var.proxy_alerts_to_sns ? 1 : 0
  statement {
    sid       = "AlertsToSns"
    actions   = ["sns:Publish"]
    resources = [local.alerts_topic_arn]
  }
  # Publishing to an encrypted topic encrypts with its key (none known: an
  # existing topic given without alerts_kms_key_arn).
  dynamic "statement" {
    for_each = local.alerts_key_known ? [1] : []
    content {
      sid       = "AlertsTopicKey"
      actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
      resources = [local.alerts_key_arn]
    }
  }
}

data "aws_iam_policy_document" "task" {
  source_policy_documents = concat(
    [data.aws_iam_policy_document.task_logging.json],
    data.aws_iam_policy_document.task_alerts[*].json,
  )
}

# The execution role: ECS writes the two containers' own logs with it, and
# reads the Slack secret at task start. (Pulling the images is the
# execution role's own business: AmazonECSTaskExecutionRolePolicy, or ECR
# permissions of yours.)
data "aws_iam_policy_document" "execution_secrets" {
  count = local.slack_enabled ? 1 : 0
  statement {
    sid       = "SlackWebhookSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.slack_secret_arn]
  }
}

data "aws_iam_policy_document" "execution" {
  source_policy_documents = data.aws_iam_policy_document.execution_secrets[*].json
  statement {
    sid       = "RouterLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.router.arn}:*"]
  }
}

# --- The two containers ---------------------------------------------------------

locals {
  router_logs = {
    logDriver = "awslogs"
    options = {
      awslogs-group  = aws_cloudwatch_log_group.router.name
      awslogs-region = local.region
    }
  }

  # The task's ephemeral storage holds the spool and the containers' image
  # layers (unpacked) and writable paths. Fargate gives 20 GiB unless the task
  # asks for 21 to 200:
  #   size_in_gib = ceil(spool_max_bytes / 1 GiB) + ephemeral_storage_reserve_gib
  # asked for only above 20 (the defaults, 10 GiB + 10 GiB, fit the default).
  ephemeral_storage_gib = ceil(var.spool_max_bytes / 1073741824) + var.ephemeral_storage_reserve_gib

  # Both on the task's ephemeral storage (bind mounts, no host path): the
  # proxy's spool, and the log router's /tmp. The image declares the spool
  # directory a VOLUME owned by uid 10001, which Fargate copies to the mount.
  volumes = [
    { name = "sink-proxy-spool" },
    { name = "firelens-tmp" },
  ]

  spool_dir = "/var/lib/sink-proxy/spool"

  # Grouped alerts to Slack (README: "Alerts"): ECS reads the secret at task
  # start and sets the variable. No `secrets` key at all without Slack.
  proxy_secrets = local.slack_enabled ? {
    secrets = [
      { name = "SINK_PROXY_SLACK_WEBHOOK_URL", valueFrom = local.slack_secret_arn },
    ]
  } : {}

  # Start order: sink-proxy (healthy), then the log router, then the app.
  # ECS stops them in reverse: the app, the log router (flushing its last
  # chunks to the proxy), then the proxy (finishing them, see README).
  sink_proxy_container = merge({
    name        = "sink-proxy"
    image       = var.router_image
    essential   = true
    user        = "10001"
    entryPoint  = ["/usr/local/bin/sink-proxy"]
    stopTimeout = 30
    # Its in-flight budget (64 MiB) plus the runtime: measured peaks stay
    # under 100 MiB (README: "Memory"); a soft limit.
    memoryReservation = 128
    # It writes only to its spool, a task volume.
    readonlyRootFilesystem = true
    mountPoints = [
      { sourceVolume = "sink-proxy-spool", containerPath = local.spool_dir, readOnly = false },
    ]
    environment = concat([
      { name = "SINK_PROXY_LOG_GROUP", value = local.error_log_group_name },
      { name = "SINK_PROXY_DELIVERY_STREAM", value = local.delivery_stream_name },
      { name = "SINK_PROXY_LOG_FORMAT", value = "json" },
      # Chunks are acknowledged once on this disk (README: "The spool").
      { name = "SINK_PROXY_SPOOL_DIR", value = local.spool_dir },
      { name = "SINK_PROXY_SPOOL_MAX_BYTES", value = tostring(var.spool_max_bytes) },
      # Its metrics as EMF on stdout, every 60 s: CloudWatch metrics with no agent.
      { name = "SINK_PROXY_EMF_NAMESPACE", value = local.metrics_namespace },
      ], var.proxy_alerts_to_sns ? [
      { name = "SINK_PROXY_ALERT_SNS_TOPIC_ARN", value = local.alerts_topic_arn },
    ] : [])
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
  }, local.proxy_secrets)

  log_router_container = {
    name              = "log_router"
    image             = var.router_image
    essential         = true
    stopTimeout       = 30
    memoryReservation = 100
    # ECS mounts FireLens's generated config and socket directory itself;
    # the start script's module check writes its scratch files to /tmp.
    readonlyRootFilesystem = true
    mountPoints = [
      { sourceVolume = "firelens-tmp", containerPath = "/tmp", readOnly = false },
    ]
    firelensConfiguration = {
      type = "fluentbit"
      options = {
        config-file-type        = "file"
        config-file-value       = var.include
        enable-ecs-log-metadata = "true"
      }
    }
    dependsOn = [{ containerName = "sink-proxy", condition = "HEALTHY" }]
    logConfiguration = merge(local.router_logs, {
      options = merge(local.router_logs.options, { awslogs-stream-prefix = "fluent-bit" })
    })
  }

  # What each app container that logs through the router needs. ECS
  # replaces its log driver with Docker's fluentd driver to the log router;
  # `log-driver-buffer-limit` is the one option it gives that driver: the
  # lines held while the router does not read. Every other option would
  # become a Fluent Bit output setting, and without `Name` ECS refuses the
  # task at start; Docker's `mode` and `max-buffer-size` never apply to
  # awsfirelens.
  app_log_configuration = {
    logDriver = "awsfirelens"
    options   = { log-driver-buffer-limit = tostring(var.log_driver_buffer_limit) }
  }
  app_depends_on = [{ containerName = "log_router", condition = "START" }]
}

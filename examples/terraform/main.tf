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
  validation {
    # IAM role name prefixes ("<name>-execution-") are at most 38 characters;
    # S3 bucket names are lower case.
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}$", var.name))
    error_message = "name: 1 to 27 characters, lower-case letters, digits and hyphens, starting with a letter (it prefixes the S3 bucket and IAM role names)."
  }
}

variable "app_image" {
  description = "The application's image"
  type        = string
  validation {
    condition     = length(var.app_image) > 0 && !can(regex("\\s", var.app_image))
    error_message = "app_image: an image reference such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42 (no spaces)."
  }
}

variable "router_image" {
  description = "The image built by this repository's Dockerfile (log router and sink-proxy)"
  type        = string
  validation {
    condition     = length(var.router_image) > 0 && !can(regex("\\s", var.router_image))
    error_message = "router_image: the image built from this repository's Dockerfile, such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0 (no spaces)."
  }
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (Graviton); build the router image for the same"
  type        = string
  default     = "X86_64"
  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture: X86_64 or ARM64 (upper case, as ECS spells them)."
  }
}

variable "error_retention_days" {
  description = "Retention of the error log group (0: kept for ever)"
  type        = number
  default     = 30
  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.error_retention_days)
    error_message = "error_retention_days: one of CloudWatch Logs' retention periods: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 (0: kept for ever)."
  }
}

variable "spool_max_bytes" {
  description = "sink-proxy's spool limit, on the task's ephemeral storage (see ephemeral_storage_reserve_gib for how the storage is sized from it)"
  type        = number
  default     = 10737418240
  validation {
    # sink-proxy refuses less than 3 x segment (32 MiB) + 4 x the largest
    # decoded chunk (12 MiB), its defaults: 144 MiB.
    condition     = floor(var.spool_max_bytes) == var.spool_max_bytes && var.spool_max_bytes >= 150994944
    error_message = "spool_max_bytes: a whole number of bytes, at least 150994944 (144 MiB, the least sink-proxy accepts with its default segment and chunk sizes)."
  }
}

variable "ephemeral_storage_reserve_gib" {
  description = "Task ephemeral storage beside the spool, in GiB: the containers' image layers and the app's own writes. The task gets ceil(spool_max_bytes / 1 GiB) + this"
  type        = number
  default     = 10
  validation {
    condition     = floor(var.ephemeral_storage_reserve_gib) == var.ephemeral_storage_reserve_gib && var.ephemeral_storage_reserve_gib >= 1 && var.ephemeral_storage_reserve_gib <= 199
    error_message = "ephemeral_storage_reserve_gib: a whole number of GiB from 1 to 199 (the image layers alone need a few GiB)."
  }
}

variable "log_driver_buffer_limit" {
  description = "Log lines the app container's log driver holds in memory while the log router is not reading (awsfirelens `log-driver-buffer-limit`; ECS's default is 1048576). Its memory, up to this many lines times their average size, counts in the task's memory: 65536 lines of 400 bytes are 25 MiB"
  type        = number
  default     = 65536
  validation {
    condition     = floor(var.log_driver_buffer_limit) == var.log_driver_buffer_limit && var.log_driver_buffer_limit >= 1 && var.log_driver_buffer_limit < 536870912
    error_message = "log_driver_buffer_limit: a whole number of log lines from 1 to 536870911 (ECS's limit)."
  }
}

variable "archive_ia_after_days" {
  description = "Days before archived logs move to S3 Standard-IA (0: never)"
  type        = number
  default     = 30
  validation {
    condition     = floor(var.archive_ia_after_days) == var.archive_ia_after_days && (var.archive_ia_after_days == 0 || var.archive_ia_after_days >= 30)
    error_message = "archive_ia_after_days: 0 (never) or a whole number of days, at least 30 (S3 moves nothing to Standard-IA sooner)."
  }
}

variable "archive_glacier_after_days" {
  description = "Days before archived logs move to S3 Glacier Flexible Retrieval (0: never)"
  type        = number
  default     = 90
  validation {
    condition     = floor(var.archive_glacier_after_days) == var.archive_glacier_after_days && var.archive_glacier_after_days >= 0
    error_message = "archive_glacier_after_days: 0 (never) or a whole number of days."
  }
}

variable "archive_expire_after_days" {
  description = "Days before archived logs are deleted (0: kept for ever)"
  type        = number
  default     = 365
  validation {
    condition     = floor(var.archive_expire_after_days) == var.archive_expire_after_days && var.archive_expire_after_days >= 0
    error_message = "archive_expire_after_days: 0 (kept for ever) or a whole number of days."
  }
}

variable "cluster_arn" {
  description = "ECS cluster for the example service; empty: define the task only"
  type        = string
  default     = ""
  validation {
    condition     = var.cluster_arn == "" || can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9_-]+$", var.cluster_arn))
    error_message = "cluster_arn: empty (no service) or a cluster's ARN, arn:aws:ecs:eu-west-1:123456789012:cluster/NAME."
  }
}

variable "subnet_ids" {
  description = "Subnets of the example service (with cluster_arn)"
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids: subnet IDs such as subnet-0123456789abcdef0."
  }
}

variable "security_group_ids" {
  description = "Security groups of the example service (with cluster_arn)"
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids: security group IDs such as sg-0123456789abcdef0."
  }
}

variable "alert_email" {
  description = "Email address told when the service logs errors (the alarm below); empty: no subscription"
  type        = string
  default     = ""
  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email: empty (no subscription) or one email address, such as oncall@example.com."
  }
}

variable "alarm_error_threshold" {
  description = "Errors in 5 minutes, across all tasks, that raise the alarm"
  type        = number
  default     = 1
  validation {
    condition     = floor(var.alarm_error_threshold) == var.alarm_error_threshold && var.alarm_error_threshold >= 1
    error_message = "alarm_error_threshold: a whole number of errors, at least 1."
  }
}

variable "slack_webhook_url" {
  description = "Slack incoming webhook for sink-proxy's grouped alerts; stored as a Secrets Manager secret (and so in the Terraform state). Empty: no Slack, unless slack_webhook_secret_arn is set"
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.slack_webhook_url == "" || startswith(var.slack_webhook_url, "https://")
    error_message = "slack_webhook_url: empty (no Slack) or the incoming webhook's https:// URL (https://hooks.slack.com/services/...)."
  }
}

variable "slack_webhook_secret_arn" {
  description = "An existing Secrets Manager secret holding the Slack webhook URL (instead of slack_webhook_url): its full ARN. A secret under a customer-managed KMS key also needs kms:Decrypt for the execution role"
  type        = string
  default     = ""
  validation {
    # Secrets Manager appends "-" and 6 random characters to a secret's name
    # in its ARN; IAM matches the whole ARN, so a partial one grants nothing.
    condition     = var.slack_webhook_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$", var.slack_webhook_secret_arn))
    error_message = "slack_webhook_secret_arn: the secret's full ARN, as the Secrets Manager console shows it, ending in a hyphen and 6 random characters: arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook-AbCdEf. The name alone, or the ARN without those 6 characters, is not enough for the IAM policy."
  }
}

variable "proxy_alerts_to_sns" {
  description = "Also send each task's grouped alerts to the SNS topic (email); off by default: the alarm already tells email, and Slack carries the detail"
  type        = bool
  default     = false
}

variable "alerts_kms_key_arn" {
  description = "An existing customer-managed KMS key for the alerts topic (its key ARN), instead of the one created here. Its key policy must allow cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, as aws_kms_key.alerts's does. Empty: create the key"
  type        = string
  default     = ""
  validation {
    # A key ARN, not an alias: IAM grants on an alias's ARN do not cover the key.
    condition     = var.alerts_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-)?[0-9a-f-]+$", var.alerts_kms_key_arn))
    error_message = "alerts_kms_key_arn: empty (create a key) or a KMS key ARN, arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias, and not alias/aws/sns: CloudWatch alarms cannot use that key)."
  }
}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

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
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
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
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

locals {
  create_alerts_key = var.alerts_kms_key_arn == ""
  alerts_key_arn    = local.create_alerts_key ? aws_kms_key.alerts[0].arn : var.alerts_kms_key_arn
}

resource "aws_sns_topic" "alerts" {
  name_prefix       = "${var.name}-alerts-"
  kms_master_key_id = local.alerts_key_arn
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
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
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
  statement {
    # Publishing to an encrypted topic encrypts with its key.
    sid       = "AlertsTopicKey"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = [local.alerts_key_arn]
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
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# ECS reads the Slack secret with the execution role, at task start.
data "aws_iam_policy_document" "execution_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.slack_secret_arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  count  = local.slack_enabled ? 1 : 0
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

  # The task's ephemeral storage holds the spool and the containers' image
  # layers (unpacked) and writable paths. Fargate gives 20 GiB unless the task
  # asks for 21 to 200:
  #   size_in_gib = ceil(spool_max_bytes / 1 GiB) + ephemeral_storage_reserve_gib
  # set only above 20 (the defaults, 10 GiB + 10 GiB, fit the default).
  ephemeral_storage_gib = ceil(var.spool_max_bytes / 1073741824) + var.ephemeral_storage_reserve_gib

  spool_dir = "/var/lib/sink-proxy/spool"

  # Grouped alerts to Slack (README: "Alerts"): ECS reads the secret at task
  # start and sets the variable. No `secrets` key at all without Slack.
  proxy_secrets = local.slack_enabled ? {
    secrets = [
      { name = "SINK_PROXY_SLACK_WEBHOOK_URL", valueFrom = local.slack_secret_arn },
    ]
  } : {}
}

resource "aws_ecs_task_definition" "app" {
  #checkov:skip=CKV_AWS_336:sink-proxy and log_router run with read-only root filesystems; "app" stands for your application, whose writable paths only you know
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

  dynamic "ephemeral_storage" {
    for_each = local.ephemeral_storage_gib > 20 ? [local.ephemeral_storage_gib] : []
    content {
      size_in_gib = ephemeral_storage.value
    }
  }

  # Both on the task's ephemeral storage (bind mounts, no host path): the
  # proxy's spool, and the log router's /tmp. The image declares the spool
  # directory a VOLUME owned by uid 10001, which Fargate copies to the mount.
  volume {
    name = "sink-proxy-spool"
  }

  volume {
    name = "firelens-tmp"
  }

  lifecycle {
    precondition {
      condition     = local.ephemeral_storage_gib <= 200
      error_message = "The task needs ceil(spool_max_bytes / 1 GiB) + ephemeral_storage_reserve_gib GiB of ephemeral storage, more than Fargate's maximum of 200 GiB: lower spool_max_bytes or ephemeral_storage_reserve_gib."
    }
    precondition {
      condition     = !(local.slack_from_url && var.slack_webhook_secret_arn != "")
      error_message = "Give slack_webhook_url (a secret is created from it) or slack_webhook_secret_arn (an existing secret), not both."
    }
  }

  # Start order: sink-proxy (healthy), then the log router, then the app.
  # ECS stops them in reverse: the app, the log router (flushing its last
  # chunks to the proxy), then the proxy (finishing them, see README).
  container_definitions = jsonencode([
    merge({
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
        { name = "SINK_PROXY_LOG_GROUP", value = aws_cloudwatch_log_group.errors.name },
        { name = "SINK_PROXY_DELIVERY_STREAM", value = aws_kinesis_firehose_delivery_stream.logs.name },
        { name = "SINK_PROXY_LOG_FORMAT", value = "json" },
        # Chunks are acknowledged once on this disk (README: "The spool").
        { name = "SINK_PROXY_SPOOL_DIR", value = local.spool_dir },
        { name = "SINK_PROXY_SPOOL_MAX_BYTES", value = tostring(var.spool_max_bytes) },
        # Its metrics as EMF on stdout, every 60 s: CloudWatch metrics with no agent.
        { name = "SINK_PROXY_EMF_NAMESPACE", value = local.metrics_namespace },
        ], var.proxy_alerts_to_sns ? [
        { name = "SINK_PROXY_ALERT_SNS_TOPIC_ARN", value = aws_sns_topic.alerts.arn },
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
    }, local.proxy_secrets),
    {
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
      # ECS replaces this with Docker's fluentd driver to the log router;
      # `log-driver-buffer-limit` is the one option it gives that driver: the
      # lines held while the router does not read. Every other option would
      # become a Fluent Bit output setting, and without `Name` ECS refuses the
      # task at start; Docker's `mode` and `max-buffer-size` never apply to
      # awsfirelens.
      logConfiguration = {
        logDriver = "awsfirelens"
        options   = { log-driver-buffer-limit = tostring(var.log_driver_buffer_limit) }
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

  lifecycle {
    precondition {
      condition     = length(var.subnet_ids) > 0
      error_message = "The service (cluster_arn is set) needs subnet_ids: Fargate tasks run in awsvpc mode, in your subnets."
    }
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

output "alerts_kms_key_arn" {
  description = "The alerts topic's KMS key (created here, or alerts_kms_key_arn)"
  value       = local.alerts_key_arn
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

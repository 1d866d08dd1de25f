# The inputs. Sections (`# --- ... ---`) become the README's table groups
# (scripts/terraform-docs.py); every variable that is not a bool has a
# validation whose message starts with its name.

# --- Identity ---

variable "name" {
  description = "Prefix of every resource (the application's name): the log groups `/ecs/<name>/...`, the bucket `<name>-logs-...`, the stream `<name>-logs`, the metrics namespace `FireLens/<name>`"
  type        = string
  validation {
    # IAM role name prefixes ("<name>-execution-", in the examples) are at
    # most 38 characters; S3 bucket names are lower case.
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}$", var.name))
    error_message = "name: 1 to 27 characters, lower-case letters, digits and hyphens, starting with a letter (it prefixes the S3 bucket and IAM role names)."
  }
}

variable "router_image" {
  description = "The image built by this repository's Dockerfile (log router and sink-proxy), for the task's CPU architecture"
  type        = string
  validation {
    condition     = length(var.router_image) > 0 && !can(regex("\\s", var.router_image))
    error_message = "router_image: the image built from this repository's Dockerfile, such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0 (no spaces)."
  }
}

# --- Routing ---

variable "include" {
  description = "The Fluent Bit include FireLens loads (`config-file-value`): `/fluent-bit/firelens/firelens-lean.conf` (sink-proxy classifies, the least CPU), `/fluent-bit/firelens/firelens.conf` (the Wasm filter in Fluent Bit) or `/fluent-bit/firelens/firelens-stacktraces.conf` (also joins stack traces), or your own `.conf` in the image"
  type        = string
  default     = "/fluent-bit/firelens/firelens-lean.conf"
  validation {
    # FireLens @INCLUDEs the file into the classic config it generates: a
    # YAML file (firelens.yaml) cannot be included there.
    condition     = can(regex("^/[^\\s]+\\.conf$", var.include))
    error_message = "include: an absolute path to a classic-format .conf file in the image, such as /fluent-bit/firelens/firelens-lean.conf, /fluent-bit/firelens/firelens.conf or /fluent-bit/firelens/firelens-stacktraces.conf (not firelens.yaml: FireLens includes the file into a classic config)."
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

# --- Spool and storage ---

variable "spool_max_bytes" {
  description = "sink-proxy's spool limit, on the task's ephemeral storage (the output `ephemeral_storage` is sized from it)"
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
  description = "Task ephemeral storage beside the spool, in GiB: the containers' image layers and the app's own writes. The task needs ceil(spool_max_bytes / 1 GiB) + this"
  type        = number
  default     = 10
  validation {
    condition     = floor(var.ephemeral_storage_reserve_gib) == var.ephemeral_storage_reserve_gib && var.ephemeral_storage_reserve_gib >= 1 && var.ephemeral_storage_reserve_gib <= 199
    error_message = "ephemeral_storage_reserve_gib: a whole number of GiB from 1 to 199 (the image layers alone need a few GiB)."
  }
}

# --- Destinations ---

variable "error_retention_days" {
  description = "Retention of the error log group (0: kept for ever). Not used with existing_error_log_group_name"
  type        = number
  default     = 30
  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.error_retention_days)
    error_message = "error_retention_days: one of CloudWatch Logs' retention periods: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 (0: kept for ever)."
  }
}

variable "archive_ia_after_days" {
  description = "Days before archived logs move to S3 Standard-IA (0: never). Only for the bucket created here"
  type        = number
  default     = 30
  validation {
    condition     = floor(var.archive_ia_after_days) == var.archive_ia_after_days && (var.archive_ia_after_days == 0 || var.archive_ia_after_days >= 30)
    error_message = "archive_ia_after_days: 0 (never) or a whole number of days, at least 30 (S3 moves nothing to Standard-IA sooner)."
  }
}

variable "archive_glacier_after_days" {
  description = "Days before archived logs move to S3 Glacier Flexible Retrieval (0: never). Only for the bucket created here"
  type        = number
  default     = 90
  validation {
    condition     = floor(var.archive_glacier_after_days) == var.archive_glacier_after_days && var.archive_glacier_after_days >= 0
    error_message = "archive_glacier_after_days: 0 (never) or a whole number of days."
  }
}

variable "archive_expire_after_days" {
  description = "Days before archived logs are deleted (0: kept for ever). Only for the bucket created here"
  type        = number
  default     = 365
  validation {
    condition     = floor(var.archive_expire_after_days) == var.archive_expire_after_days && var.archive_expire_after_days >= 0
    error_message = "archive_expire_after_days: 0 (kept for ever) or a whole number of days."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the archive bucket with the logs in it (S3 refuses to delete a bucket that holds objects: BucketNotEmpty). It takes effect once applied: apply it before the destroy"
  type        = bool
  default     = false
  nullable    = false
}

variable "existing_error_log_group_name" {
  description = "An existing CloudWatch Logs group for the errors, instead of `/ecs/<name>/errors` created here. Empty: create it"
  type        = string
  default     = ""
  validation {
    condition     = var.existing_error_log_group_name == "" || can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", var.existing_error_log_group_name))
    error_message = "existing_error_log_group_name: empty (create the group) or a log group's name, such as /ecs/shop-web/errors (its name, not its ARN: letters, digits and . - _ / #)."
  }
}

variable "existing_archive_bucket_name" {
  description = "An existing S3 bucket the delivery stream created here writes to (under `logs/`, errors under `errors/`), instead of the bucket created here. Its encryption, lifecycle and policy are yours. Empty: create it"
  type        = string
  default     = ""
  validation {
    condition     = var.existing_archive_bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.existing_archive_bucket_name))
    error_message = "existing_archive_bucket_name: empty (create the bucket) or a bucket's name, such as shop-web-logs (3 to 63 lower-case letters, digits, dots and hyphens; the name, not s3://... or an ARN)."
  }
}

variable "existing_delivery_stream_name" {
  description = "An existing Firehose delivery stream (Direct PUT) for everything, instead of the stream, bucket, Glue table and Firehose role created here. Empty: create them"
  type        = string
  default     = ""
  validation {
    condition     = var.existing_delivery_stream_name == "" || can(regex("^[a-zA-Z0-9_.-]{1,64}$", var.existing_delivery_stream_name))
    error_message = "existing_delivery_stream_name: empty (create the stream) or a delivery stream's name, such as shop-web-logs (1 to 64 letters, digits, _ . -; the name, not its ARN)."
  }
}

# --- Alerting ---

variable "alert_email" {
  description = "Email address told when the service logs errors (the alarms); empty: no subscription. AWS sends a confirmation email first"
  type        = string
  default     = ""
  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email: empty (no subscription) or one email address, such as oncall@example.com."
  }
}

variable "alarm_error_threshold" {
  description = "Errors in 5 minutes, across all tasks, that raise the errors alarm"
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
  nullable    = false
}

variable "alerts_kms_key_arn" {
  description = "An existing customer-managed KMS key for the alerts topic (its key ARN), instead of the one created here; with existing_alerts_topic_arn, that topic's key. Its key policy must allow cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*, as the created key's does. Empty: create the key (unless the topic is yours)"
  type        = string
  default     = ""
  validation {
    # A key ARN, not an alias: IAM grants on an alias's ARN do not cover the key.
    condition     = var.alerts_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-)?[0-9a-f-]+$", var.alerts_kms_key_arn))
    error_message = "alerts_kms_key_arn: empty (create a key) or a KMS key ARN, arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias, and not alias/aws/sns: CloudWatch alarms cannot use that key)."
  }
}

variable "existing_alerts_topic_arn" {
  description = "An existing SNS topic for the alarms (and proxy_alerts_to_sns), instead of the topic and KMS key created here. If it is encrypted, give its key as alerts_kms_key_arn, and its key policy must let CloudWatch use it. Empty: create them"
  type        = string
  default     = ""
  validation {
    # CloudWatch alarms cannot publish to FIFO topics.
    condition     = var.existing_alerts_topic_arn == "" || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.existing_alerts_topic_arn))
    error_message = "existing_alerts_topic_arn: empty (create a topic) or a standard SNS topic's ARN, arn:aws:sns:eu-west-1:123456789012:alerts (not a .fifo topic: CloudWatch alarms cannot publish to those)."
  }
}

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
      source  = "hashicorp/aws"
      version = ">= 5.0"
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

data "aws_region" "current" {}

# --- Errors: CloudWatch Logs --------------------------------------------------

resource "aws_cloudwatch_log_group" "errors" {
  name              = "/ecs/${var.name}/errors"
  retention_in_days = var.error_retention_days
}

# The log router's and the proxy's own logs.
resource "aws_cloudwatch_log_group" "router" {
  name              = "/ecs/${var.name}/log-router"
  retention_in_days = 7
}

# --- Everything: Firehose to S3 -----------------------------------------------

resource "aws_s3_bucket" "archive" {
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

resource "aws_iam_role_policy" "firehose_to_s3" {
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose_to_s3.json
}

resource "aws_kinesis_firehose_delivery_stream" "logs" {
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
    compression_format = "GZIP"
    buffering_size     = 64
    buffering_interval = 300
    error_output_prefix = "errors/"
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
    sid       = "ArchiveEverything"
    actions   = ["firehose:PutRecordBatch"]
    resources = [aws_kinesis_firehose_delivery_stream.logs.arn]
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

# The execution role: pull images, write the containers' own logs.
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-execution-"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
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
      name              = "sink-proxy"
      image             = var.router_image
      essential         = true
      user              = "10001"
      entryPoint        = ["/usr/local/bin/sink-proxy"]
      stopTimeout       = 30
      memoryReservation = 64
      environment = [
        { name = "SINK_PROXY_LOG_GROUP", value = aws_cloudwatch_log_group.errors.name },
        { name = "SINK_PROXY_DELIVERY_STREAM", value = aws_kinesis_firehose_delivery_stream.logs.name },
        { name = "SINK_PROXY_LOG_FORMAT", value = "json" },
        # Chunks are acknowledged once on this disk (README: "The spool").
        { name = "SINK_PROXY_SPOOL_DIR", value = "/var/lib/sink-proxy/spool" },
        { name = "SINK_PROXY_SPOOL_MAX_BYTES", value = tostring(var.spool_max_bytes) },
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
          config-file-value       = "/fluent-bit/firelens/firelens.conf"
          enable-ecs-log-metadata = "true"
        }
      }
      dependsOn = [{ containerName = "sink-proxy", condition = "HEALTHY" }]
      logConfiguration = merge(local.router_logs, {
        options = merge(local.router_logs.options, { awslogs-stream-prefix = "fluent-bit" })
      })
    },
    {
      name         = "app"
      image        = var.app_image
      essential    = true
      dependsOn    = [{ containerName = "log_router", condition = "START" }]
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

output "task_definition_arn" {
  value = aws_ecs_task_definition.app.arn
}

output "archive_bucket" {
  value = aws_s3_bucket.archive.id
}

output "error_log_group" {
  value = aws_cloudwatch_log_group.errors.name
}

# --- The network: yours ---

variable "vpc_id" {
  description = "The VPC of the load balancer and the tasks"
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id: a VPC ID such as vpc-0123456789abcdef0."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the internet-facing load balancer: at least two, in different Availability Zones, with a route to an internet gateway"
  type        = list(string)
  validation {
    condition     = length(var.public_subnet_ids) >= 2 && alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "public_subnet_ids: at least two subnet IDs such as subnet-0123456789abcdef0 (an Application Load Balancer spans two Availability Zones or more)."
  }
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks. They pull images and call AWS (Firehose, CloudWatch Logs, ECR, SSM for ECS Exec) and Slack over HTTPS: give them a NAT gateway, or use public subnets with assign_public_ip"
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 1 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids: one or more subnet IDs such as subnet-0123456789abcdef1."
  }
}

variable "assign_public_ip" {
  description = "Give each task a public IP: for tasks in public subnets (a default VPC) without a NAT gateway. Their security group still admits only the load balancer"
  type        = bool
  default     = false
  nullable    = false
}

variable "allowed_cidr_blocks" {
  description = "Who may reach the load balancer on port 80: your address (`curl -s https://checkip.amazonaws.com`/32), or 0.0.0.0/0 for everyone"
  type        = list(string)
  validation {
    condition     = length(var.allowed_cidr_blocks) >= 1 && alltrue([for c in var.allowed_cidr_blocks : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c))])
    error_message = "allowed_cidr_blocks: one or more IPv4 CIDR blocks, such as [\"203.0.113.7/32\"]."
  }
}

# --- The service ---

variable "name" {
  description = "Prefix of every resource: the cluster, the service, the load balancer and the module's resources"
  type        = string
  default     = "shop-web"
  validation {
    # IAM role name prefixes ("<name>-execution-") are at most 38
    # characters, target group names 32; S3 bucket names are lower case.
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}$", var.name))
    error_message = "name: 1 to 27 characters, lower-case letters, digits and hyphens, starting with a letter (it prefixes the S3 bucket, IAM role and target group names)."
  }
}

variable "app_image" {
  description = "The sample app's image: Python 3, which runs app/server.py (multi-architecture)"
  type        = string
  default     = "public.ecr.aws/docker/library/python:3.13-alpine"
  validation {
    condition     = length(var.app_image) > 0 && !can(regex("\\s", var.app_image))
    error_message = "app_image: an image reference with Python 3, such as public.ecr.aws/docker/library/python:3.13-alpine (no spaces)."
  }
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (Graviton): the tasks' CPU, and the platform the router image is built for"
  type        = string
  default     = "X86_64"
  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture: X86_64 or ARM64 (upper case, as ECS spells them)."
  }
}

variable "desired_count" {
  description = "Tasks the service starts with; later changes (autoscaling, the console) are left alone"
  type        = number
  default     = 2
  validation {
    condition     = floor(var.desired_count) == var.desired_count && var.desired_count >= 1 && var.desired_count <= 100
    error_message = "desired_count: a whole number of tasks from 1 to 100."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the archive bucket with its logs and the ECR repository with its images. On: this example is made to be stood up and torn down; off keeps them (destroy then stops at BucketNotEmpty). It takes effect once applied"
  type        = bool
  default     = true
  nullable    = false
}

# --- The log router image ---

variable "router_image" {
  description = "An image of this repository's Dockerfile you pushed already, for cpu_architecture. Empty: an ECR repository is created and the image built and pushed to it (build_image)"
  type        = string
  default     = ""
  validation {
    condition     = !can(regex("\\s", var.router_image))
    error_message = "router_image: empty (build it) or an image reference such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0 (no spaces)."
  }
}

variable "build_image" {
  description = "With router_image empty: build the image and push it to the ECR repository during apply (build-and-push.sh: docker buildx and the AWS CLI on this machine). Off: push it yourself (output image_push_command) before the service starts"
  type        = bool
  default     = true
  nullable    = false
}

variable "image_tag" {
  description = "The router image's tag in the ECR repository. Empty: `src-` and the first 12 hex digits of a hash of the files the image is built from, so that a change to them builds and deploys a new image"
  type        = string
  default     = ""
  validation {
    condition     = var.image_tag == "" || can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag: empty (from the sources) or a Docker tag: up to 128 letters, digits, _ . -, not starting with . or -."
  }
}

variable "source_dir" {
  description = "The checkout of this repository the image is built from. Empty: the one this example is in (../../..)"
  type        = string
  default     = ""
  validation {
    condition     = var.source_dir == "" || can(regex("^[^\\s]+$", var.source_dir))
    error_message = "source_dir: empty or a directory path without spaces."
  }
}

# --- Alerts ---

variable "alert_email" {
  description = "Email address told when the service logs errors (the alarms); AWS sends a confirmation email first. Empty: none"
  type        = string
  default     = ""
  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email: empty (no subscription) or one email address, such as oncall@example.com."
  }
}

variable "slack_webhook_url" {
  description = "Slack incoming webhook for the grouped error alerts (stored as a Secrets Manager secret). Empty: no Slack, unless slack_webhook_secret_arn"
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.slack_webhook_url == "" || startswith(var.slack_webhook_url, "https://")
    error_message = "slack_webhook_url: empty (no Slack) or the incoming webhook's https:// URL (https://hooks.slack.com/services/...)."
  }
}

variable "slack_webhook_secret_arn" {
  description = "An existing Secrets Manager secret holding the Slack webhook URL, by its full ARN (instead of slack_webhook_url)"
  type        = string
  default     = ""
  validation {
    condition     = var.slack_webhook_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$", var.slack_webhook_secret_arn))
    error_message = "slack_webhook_secret_arn: the secret's full ARN, ending in a hyphen and 6 random characters: arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook-AbCdEf."
  }
}

variable "proxy_alerts_to_sns" {
  description = "Also send each task's grouped alerts to the SNS topic (email)"
  type        = bool
  default     = false
  nullable    = false
}

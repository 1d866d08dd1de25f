# The whole deployment, end to end, in a VPC of yours: the router image in
# ECR (built and pushed by apply), an ECS cluster (Container Insights,
# FARGATE and FARGATE_SPOT), a sample app behind an Application Load
# Balancer whose health checks the log router drops, ECS Exec, the IAM
# roles, and the firelens-router module (error log group, Firehose to S3,
# alarms, Slack and email). README: "Deploy with Terraform".

data "aws_region" "current" {}

locals {
  platform = var.cpu_architecture == "ARM64" ? "linux/arm64" : "linux/amd64"
  app_port = 8080
  # The path the ALB checks: the app answers it, and logs each check with
  # the ALB's user agent (ELB-HealthChecker/2.0), which the log router's
  # health rule drops (fluent-bit/rules.toml, [health] user_agents).
  health_check_path = "/health"
}

# --- The router image: ECR, built and pushed -----------------------------------

locals {
  build_in_ecr = var.router_image == ""
  source_dir   = var.source_dir != "" ? var.source_dir : "${path.module}/../../.."
  # What the image is built from (the Dockerfile's COPY of the workspace,
  # less tests and benches): a change here is a new tag, so a new image and
  # a new deployment. Tags are immutable in the repository.
  image_sources = sort(flatten([for p in [
    "Dockerfile", ".dockerignore", "Cargo.toml", "Cargo.lock", "scripts/build-wasm.sh",
    "fluent-bit/*", "filter-wasm/Cargo.toml", "filter-wasm/build.rs", "filter-wasm/src/**",
    "sink-proxy/Cargo.toml", "sink-proxy/sink-proxy.example.toml", "sink-proxy/src/**",
  ] : tolist(fileset(local.source_dir, p))]))
  source_hash = sha256(join("\n", [for f in local.image_sources : "${f} ${filesha256("${local.source_dir}/${f}")}"]))
  image_tag   = var.image_tag != "" ? var.image_tag : "src-${substr(local.source_hash, 0, 12)}"
}

resource "aws_ecr_repository" "router" {
  count                = local.build_in_ecr ? 1 : 0
  name                 = "${var.name}/firelens-router"
  image_tag_mutability = "IMMUTABLE"
  # With images in it, ECR deletes the repository only when forced.
  force_delete = var.force_destroy
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "router" {
  count      = local.build_in_ecr ? 1 : 0
  repository = aws_ecr_repository.router[0].name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 10 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 10 }
      action       = { type = "expire" }
    }]
  })
}

locals {
  router_image = local.build_in_ecr ? "${aws_ecr_repository.router[0].repository_url}:${local.image_tag}" : var.router_image
  push_command = "IMAGE=${local.router_image} PLATFORM=${local.platform} AWS_REGION=${data.aws_region.current.name} CONTEXT=${abspath(local.source_dir)} ${abspath(path.module)}/build-and-push.sh"
}

# Built where terraform runs (docker buildx, the AWS CLI), for the tasks'
# CPU, and pushed before the task definition is registered. (terraform_data
# rather than null_resource: built in, no provider to install.)
resource "terraform_data" "router_image" {
  count            = local.build_in_ecr && var.build_image ? 1 : 0
  triggers_replace = [local.router_image, local.platform]

  provisioner "local-exec" {
    command = "${abspath(path.module)}/build-and-push.sh"
    environment = {
      IMAGE      = local.router_image
      PLATFORM   = local.platform
      AWS_REGION = data.aws_region.current.name
      CONTEXT    = abspath(local.source_dir)
    }
  }

  lifecycle {
    precondition {
      condition     = fileexists("${local.source_dir}/Dockerfile")
      error_message = "The router image is built from this repository's Dockerfile, which is not in source_dir: set source_dir to a checkout, or router_image to an image you pushed."
    }
  }
}

# --- The logging: the module -----------------------------------------------------

module "logging" {
  source = "../../../terraform/modules/firelens-router"

  name         = var.name
  router_image = local.router_image
  # The sample app writes Python tracebacks: join them into one event.
  include       = "/fluent-bit/firelens/firelens-stacktraces.conf"
  force_destroy = var.force_destroy

  alert_email              = var.alert_email
  slack_webhook_url        = var.slack_webhook_url
  slack_webhook_secret_arn = var.slack_webhook_secret_arn
  proxy_alerts_to_sns      = var.proxy_alerts_to_sns
}

# --- The roles ---------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The task role: sink-proxy's destinations (the module's policy), and ECS
# Exec's channel to SSM.
resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-logging-"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy" "task_logging" {
  role   = aws_iam_role.task.id
  policy = module.logging.task_role_policy_json
}

data "aws_iam_policy_document" "ecs_exec" {
  #checkov:skip=CKV_AWS_111:ssmmessages has no resource-level permissions; "*" is the only resource IAM accepts for these four actions
  #checkov:skip=CKV_AWS_356:ssmmessages has no resource-level permissions; "*" is the only resource IAM accepts for these four actions
  statement {
    sid = "EcsExec"
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "ecs_exec" {
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.ecs_exec.json
}

# The execution role: pull the images (ECS's managed policy), write the
# containers' own logs and read the Slack secret (the module's policy).
resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-execution-"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

data "aws_partition" "current" {}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_logging" {
  role   = aws_iam_role.execution.id
  policy = module.logging.execution_role_policy_json
}

# --- The cluster -----------------------------------------------------------------

resource "aws_ecs_cluster" "main" {
  #checkov:skip=CKV_AWS_224:ECS Exec sessions are TLS-encrypted by SSM; a customer-managed key and a session log group are the user's choice and cost
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  configuration {
    execute_command_configuration {
      logging = "DEFAULT"
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 1
  }
}

# --- The load balancer -------------------------------------------------------------

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "${var.name}: the load balancer, reached on port 80 from allowed_cidr_blocks"
  vpc_id      = var.vpc_id
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each          = toset(var.allowed_cidr_blocks)
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "Requests and health checks to the tasks"
  referenced_security_group_id = aws_security_group.tasks.id
  ip_protocol                  = "tcp"
  from_port                    = local.app_port
  to_port                      = local.app_port
}

resource "aws_security_group" "tasks" {
  name_prefix = "${var.name}-tasks-"
  description = "${var.name}: the tasks, reached from the load balancer only"
  vpc_id      = var.vpc_id
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "The app's port, from the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = local.app_port
  to_port                      = local.app_port
}

# HTTPS out only: ECR and the images, Firehose, CloudWatch Logs, SNS,
# Secrets Manager, SSM (ECS Exec), Slack. DNS goes to the VPC resolver,
# which security groups do not filter.
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to AWS APIs, the image registries and Slack"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_lb" "app" {
  #checkov:skip=CKV_AWS_91:access logs need a bucket of their own; the app's own access lines are archived in S3 by the log router
  #checkov:skip=CKV_AWS_150:deletion protection would stop terraform destroy of an example made to be torn down
  #checkov:skip=CKV2_AWS_28:a WAF is the user's choice and cost
  #checkov:skip=CKV2_AWS_20:the example has no domain or certificate; add an HTTPS listener (certificate_arn) and redirect port 80 to it
  name                       = "${var.name}-alb"
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
}

resource "aws_lb_target_group" "app" {
  #checkov:skip=CKV_AWS_378:the ALB reaches the tasks inside the VPC, only from its own security group; TLS to the app would need a certificate in its container
  name        = "${var.name}-app"
  vpc_id      = var.vpc_id
  target_type = "ip"
  protocol    = "HTTP"
  port        = local.app_port
  # A stopping task gets 30 s to finish its requests (ECS then stops the
  # app, the log router and sink-proxy, in that order).
  deregistration_delay = 30

  health_check {
    path                = local.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:the example has no domain or certificate; add an HTTPS listener with yours
  #checkov:skip=CKV_AWS_103:the example has no domain or certificate; add an HTTPS listener with yours
  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}

# --- The task: the sample app, the log router and sink-proxy --------------------------

locals {
  # The sample app (app/server.py): access lines, the ALB's health checks,
  # and on GET /error an ERROR line and a traceback. ECS Exec's agent
  # cannot run in a container with a read-only root (containers-roadmap
  # issue 1359): this container keeps a writable one, for `aws ecs
  # execute-command --container app`; the two sidecars' roots are read-only.
  app_container = {
    name         = "app"
    image        = var.app_image
    essential    = true
    user         = "65534"
    command      = ["python3", "-u", "-B", "-c", file("${path.module}/app/server.py")]
    environment  = [{ name = "PORT", value = tostring(local.app_port) }]
    portMappings = [{ containerPort = local.app_port, protocol = "tcp" }]
  }
}

resource "aws_ecs_task_definition" "app" {
  #checkov:skip=CKV_AWS_336:sink-proxy and log_router run with read-only root filesystems; the app keeps a writable one for ECS Exec, whose agent cannot run on a read-only root
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

  container_definitions = jsonencode(concat(module.logging.container_definitions, [
    merge(local.app_container, module.logging.app_container_settings),
  ]))

  dynamic "volume" {
    for_each = module.logging.volumes
    content { name = volume.value.name }
  }

  dynamic "ephemeral_storage" {
    for_each = module.logging.ephemeral_storage
    content { size_in_gib = ephemeral_storage.value.size_in_gib }
  }

  # The image is in ECR before a task can pull it.
  depends_on = [terraform_data.router_image]
}

# A deployment whose tasks fail sink-proxy's startup check (a wrong stream,
# a role without permissions) or the ALB's health check is rolled back by
# the circuit breaker instead of replacing tasks for ever.
resource "aws_ecs_service" "app" {
  name                              = var.name
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.app.arn
  desired_count                     = var.desired_count
  enable_execute_command            = true
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"

  # One task always on FARGATE, the rest half on FARGATE_SPOT. A Spot
  # interruption stops the task like any other stop: the app, then the log
  # router (flushing), then sink-proxy.
  capacity_provider_strategy {
    capacity_provider = "FARGATE"
    base              = 1
    weight            = 1
  }
  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.app.arn
    container_name   = "app"
    container_port   = local.app_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    # Autoscaling or a person may change it; apply does not undo that.
    ignore_changes = [desired_count]
  }

  # The target group must be behind a listener, and the roles' policies in
  # place, before the first task starts.
  depends_on = [
    aws_lb_listener.http,
    aws_ecs_cluster_capacity_providers.main,
    aws_iam_role_policy.task_logging,
    aws_iam_role_policy.ecs_exec,
    aws_iam_role_policy.execution_logging,
    aws_iam_role_policy_attachment.execution,
  ]
}

# The complete example, planned and applied against the mocked provider:
# the image built into ECR (planned), the containers pinned to
# tests/fixtures/container-definitions-complete.json, the load balancer's
# health check, ECS Exec, the roles, the service.

# The module's mocked AWS (its ARNs, which the fixture names), and this
# example's own resources: one ARN per type, or per resource where a type
# has several.
mock_provider "aws" {
  source = "../../../terraform/modules/firelens-router/tests/mocks"

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/shop-web/firelens-router"
      registry_id    = "123456789012"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web/firelens-router"
    }
  }

  mock_resource "aws_ecs_cluster" {
    defaults = {
      id  = "arn:aws:ecs:eu-west-1:123456789012:cluster/shop-web"
      arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/shop-web"
    }
  }

  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn                  = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7"
      arn_without_revision = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web"
      revision             = 7
    }
  }

  mock_resource "aws_ecs_service" {
    defaults = {
      id = "arn:aws:ecs:eu-west-1:123456789012:service/shop-web/shop-web"
    }
  }

  mock_resource "aws_lb" {
    defaults = {
      id         = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-web-alb/50dc6c495c0c9188"
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-web-alb/50dc6c495c0c9188"
      arn_suffix = "app/shop-web-alb/50dc6c495c0c9188"
      dns_name   = "shop-web-alb-1234567890.eu-west-1.elb.amazonaws.com"
    }
  }

  mock_resource "aws_lb_target_group" {
    defaults = {
      id         = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web-app/73e2d6bc24d8a067"
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web-app/73e2d6bc24d8a067"
      arn_suffix = "targetgroup/shop-web-app/73e2d6bc24d8a067"
    }
  }

  mock_resource "aws_lb_listener" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop-web-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
    }
  }
}

override_resource {
  target = aws_security_group.alb
  values = { id = "sg-0a1b2c3d4e5f60001" }
}

override_resource {
  target = aws_security_group.tasks
  values = { id = "sg-0a1b2c3d4e5f60002" }
}

override_resource {
  target = aws_iam_role.task
  values = {
    id   = "shop-web-logging-20260101000000000000000005"
    name = "shop-web-logging-20260101000000000000000005"
    arn  = "arn:aws:iam::123456789012:role/shop-web-logging-20260101000000000000000005"
  }
}

override_resource {
  target = aws_iam_role.execution
  values = {
    id   = "shop-web-execution-20260101000000000000000006"
    name = "shop-web-execution-20260101000000000000000006"
    arn  = "arn:aws:iam::123456789012:role/shop-web-execution-20260101000000000000000006"
  }
}

# Policy documents: the mock cannot render statements, so each JSON is an
# empty policy whose Id names the document the role policy carries.
override_data {
  target = data.aws_iam_policy_document.ecs_exec
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"ecs_exec\",\"Statement\":[]}" }
}

override_data {
  target = module.logging.data.aws_iam_policy_document.task
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"module_task\",\"Statement\":[]}" }
}

override_data {
  target = module.logging.data.aws_iam_policy_document.execution
  values = { json = "{\"Version\":\"2012-10-17\",\"Id\":\"module_execution\",\"Statement\":[]}" }
}

variables {
  vpc_id              = "vpc-0123456789abcdef0"
  public_subnet_ids   = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
  private_subnet_ids  = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]
  allowed_cidr_blocks = ["203.0.113.7/32"]
  alert_email         = "oncall@example.com"
  slack_webhook_url   = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
}

# The default: the image is built from this checkout and pushed to a new
# ECR repository during apply (a plan here: apply would run docker).
run "plan_building_the_image" {
  command = plan

  assert {
    condition = (
      length(aws_ecr_repository.router) == 1 &&
      aws_ecr_repository.router[0].image_tag_mutability == "IMMUTABLE" &&
      aws_ecr_repository.router[0].image_scanning_configuration[0].scan_on_push &&
      aws_ecr_repository.router[0].force_delete
    )
    error_message = "An ECR repository for the router image: immutable tags, scanned on push, deleted with its images by destroy (force_destroy)."
  }

  assert {
    # (Its name, the repository's URL and the tag, is known after apply:
    # see apply_pushing_the_image_by_hand.)
    condition     = length(terraform_data.router_image) == 1
    error_message = "The image is built during apply."
  }

  assert {
    condition     = terraform_data.router_image[0].triggers_replace[1] == "linux/amd64"
    error_message = "X86_64 tasks: the image is built for linux/amd64; a new tag or platform builds again."
  }

  assert {
    condition     = aws_ecs_task_definition.app.runtime_platform[0].cpu_architecture == "X86_64"
    error_message = "The tasks run on the architecture the image is built for."
  }
}

run "plan_for_graviton" {
  command = plan
  variables {
    cpu_architecture = "ARM64"
  }

  assert {
    condition = (
      terraform_data.router_image[0].triggers_replace[1] == "linux/arm64" &&
      aws_ecs_task_definition.app.runtime_platform[0].cpu_architecture == "ARM64"
    )
    error_message = "ARM64 tasks, an image built for linux/arm64."
  }
}

run "apply" {
  variables {
    router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
  }

  assert {
    condition     = length(aws_ecr_repository.router) == 0 && length(terraform_data.router_image) == 0
    error_message = "An image given: no repository, no build."
  }

  assert {
    # The fixture names the app's script ("@app/server.py") rather than
    # holding it: the script itself is compared below.
    condition     = jsondecode(aws_ecs_task_definition.app.container_definitions) == jsondecode(replace(file("tests/fixtures/container-definitions-complete.json"), "\"@app/server.py\"", jsonencode(file("app/server.py"))))
    error_message = "The container definitions differ from tests/fixtures/container-definitions-complete.json."
  }

  assert {
    condition = (
      one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.dependsOn if c.name == "app"]) == [{ containerName = "log_router", condition = "START" }] &&
      one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.dependsOn if c.name == "log_router"]) == [{ containerName = "sink-proxy", condition = "HEALTHY" }]
    )
    error_message = "The log router starts before the app, and sink-proxy (healthy) before the log router."
  }

  assert {
    condition = (
      one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.logConfiguration if c.name == "app"]) == { logDriver = "awsfirelens", options = { log-driver-buffer-limit = "65536" } } &&
      one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.firelensConfiguration.options["config-file-value"] if c.name == "log_router"]) == "/fluent-bit/firelens/firelens-stacktraces.conf"
    )
    error_message = "The app logs through FireLens with log-driver-buffer-limit only (no other option, which ECS would refuse without a Name); the router joins its tracebacks."
  }

  assert {
    condition     = one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.command if c.name == "app"]) == ["python3", "-u", "-B", "-c", file("app/server.py")]
    error_message = "The app runs app/server.py."
  }

  assert {
    condition = (
      aws_lb_target_group.app.health_check[0].path == "/health" &&
      aws_lb_target_group.app.health_check[0].matcher == "200" &&
      aws_lb_target_group.app.target_type == "ip" &&
      aws_lb_target_group.app.port == 8080 &&
      output.health_check_path == "/health"
    )
    error_message = "The ALB checks GET /health on the app's port (awsvpc: ip targets), expecting 200: requests the app logs with ELB-HealthChecker/2.0, which the router drops."
  }

  assert {
    condition = (
      aws_lb_listener.http.port == 80 &&
      aws_lb_listener.http.default_action[0].type == "forward" &&
      aws_lb_listener.http.default_action[0].target_group_arn == aws_lb_target_group.app.arn &&
      aws_lb.app.internal == false &&
      aws_lb.app.subnets == toset(var.public_subnet_ids) &&
      aws_lb.app.security_groups == toset(["sg-0a1b2c3d4e5f60001"]) &&
      aws_lb.app.drop_invalid_header_fields
    )
    error_message = "An internet-facing ALB in the public subnets, its listener forwarding port 80 to the app's target group."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.alb_http["203.0.113.7/32"].from_port == 80 &&
      length(aws_vpc_security_group_ingress_rule.alb_http) == 1 &&
      aws_vpc_security_group_egress_rule.alb_to_tasks.referenced_security_group_id == "sg-0a1b2c3d4e5f60002" &&
      aws_vpc_security_group_ingress_rule.tasks_from_alb.security_group_id == "sg-0a1b2c3d4e5f60002" &&
      aws_vpc_security_group_ingress_rule.tasks_from_alb.referenced_security_group_id == "sg-0a1b2c3d4e5f60001" &&
      aws_vpc_security_group_ingress_rule.tasks_from_alb.from_port == 8080 &&
      aws_vpc_security_group_egress_rule.tasks_https.from_port == 443 && aws_vpc_security_group_egress_rule.tasks_https.to_port == 443
    )
    error_message = "Port 80 from the allowed addresses to the ALB; the app's port from the ALB only to the tasks; HTTPS out of the tasks."
  }

  assert {
    condition = (
      aws_ecs_cluster.main.name == "shop-web" &&
      one([for s in aws_ecs_cluster.main.setting : s.value if s.name == "containerInsights"]) == "enabled" &&
      aws_ecs_cluster_capacity_providers.main.capacity_providers == toset(["FARGATE", "FARGATE_SPOT"])
    )
    error_message = "A cluster with Container Insights and the FARGATE and FARGATE_SPOT capacity providers."
  }

  assert {
    condition = (
      aws_ecs_service.app.task_definition == "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7" &&
      aws_ecs_service.app.cluster == "arn:aws:ecs:eu-west-1:123456789012:cluster/shop-web" &&
      aws_ecs_service.app.desired_count == 2 &&
      aws_ecs_service.app.enable_execute_command &&
      aws_ecs_service.app.health_check_grace_period_seconds == 60 &&
      aws_ecs_service.app.deployment_circuit_breaker[0].enable &&
      aws_ecs_service.app.deployment_circuit_breaker[0].rollback &&
      toset([for s in aws_ecs_service.app.capacity_provider_strategy : s.capacity_provider]) == toset(["FARGATE", "FARGATE_SPOT"])
    )
    error_message = "The service: this task definition, ECS Exec on, a grace period for the ALB's checks, the circuit breaker with rollback, FARGATE and FARGATE_SPOT."
  }

  assert {
    condition = (
      one(aws_ecs_service.app.load_balancer).target_group_arn == aws_lb_target_group.app.arn &&
      one(aws_ecs_service.app.load_balancer).container_name == "app" &&
      one(aws_ecs_service.app.load_balancer).container_port == 8080 &&
      aws_ecs_service.app.network_configuration[0].subnets == toset(var.private_subnet_ids) &&
      aws_ecs_service.app.network_configuration[0].security_groups == toset(["sg-0a1b2c3d4e5f60002"]) &&
      aws_ecs_service.app.network_configuration[0].assign_public_ip == false
    )
    error_message = "The service's tasks are the target group's targets, in the private subnets, in the tasks' security group."
  }

  assert {
    condition = (
      aws_ecs_task_definition.app.task_role_arn == "arn:aws:iam::123456789012:role/shop-web-logging-20260101000000000000000005" &&
      aws_ecs_task_definition.app.execution_role_arn == "arn:aws:iam::123456789012:role/shop-web-execution-20260101000000000000000006" &&
      aws_iam_role_policy.task_logging.role == "shop-web-logging-20260101000000000000000005" &&
      jsondecode(aws_iam_role_policy.task_logging.policy).Id == "module_task" &&
      aws_iam_role_policy.ecs_exec.role == "shop-web-logging-20260101000000000000000005" &&
      jsondecode(aws_iam_role_policy.ecs_exec.policy).Id == "ecs_exec" &&
      aws_iam_role_policy.execution_logging.role == "shop-web-execution-20260101000000000000000006" &&
      jsondecode(aws_iam_role_policy.execution_logging.policy).Id == "module_execution" &&
      aws_iam_role_policy_attachment.execution.role == "shop-web-execution-20260101000000000000000006" &&
      aws_iam_role_policy_attachment.execution.policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    )
    error_message = "The task role carries the module's task policy and ECS Exec's; the execution role ECS's managed policy and the module's execution policy."
  }

  assert {
    # ssmmessages has no resource-level permissions: "*" is the only
    # resource IAM takes for these actions, and the only "*" here.
    condition = (
      toset(one(data.aws_iam_policy_document.ecs_exec.statement).actions) == toset([
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
      ]) &&
      one(data.aws_iam_policy_document.ecs_exec.statement).resources == toset(["*"])
    )
    error_message = "ECS Exec: the four ssmmessages actions, which have no resource-level permissions, and nothing else."
  }

  assert {
    condition = (
      output.url == "http://shop-web-alb-1234567890.eu-west-1.elb.amazonaws.com" &&
      output.error_log_group == "/ecs/shop-web/errors" &&
      output.alerts_topic_arn == "arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001" &&
      output.image_push_command == null &&
      startswith(output.exec_command, "aws ecs execute-command --cluster shop-web --container app")
    )
    error_message = "The outputs: the URL, the error group, the topic, the ECS Exec command."
  }
}

# No docker here: the repository is created and the image pushed by hand
# (output image_push_command) before the service starts.
run "apply_pushing_the_image_by_hand" {
  variables {
    build_image = false
  }

  assert {
    condition = (
      length(aws_ecr_repository.router) == 1 &&
      length(terraform_data.router_image) == 0 &&
      can(regex("^123456789012\\.dkr\\.ecr\\.eu-west-1\\.amazonaws\\.com/shop-web/firelens-router:src-[0-9a-f]{12}$", output.router_image))
    )
    error_message = "The task runs the repository's image, tagged from the sources."
  }

  assert {
    condition     = alltrue([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.image == output.router_image if c.name != "app"])
    error_message = "Both sidecars run the image in the repository."
  }

  assert {
    condition = (
      startswith(output.image_push_command, "IMAGE=${output.router_image} PLATFORM=linux/amd64 AWS_REGION=eu-west-1 CONTEXT=/") &&
      endswith(output.image_push_command, "/examples/terraform/complete/build-and-push.sh")
    )
    error_message = "The push command names the image, the platform, the region and this checkout."
  }
}

run "keep_the_archive_on_destroy" {
  command = plan
  variables {
    force_destroy = false
  }

  assert {
    condition     = aws_ecr_repository.router[0].force_delete == false
    error_message = "force_destroy off: destroy keeps the repository with its images (and the bucket with its logs)."
  }
}

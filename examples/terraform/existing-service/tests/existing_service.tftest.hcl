# The module added to an existing task definition, planned and applied
# against the mocked provider: the containers pinned to
# tests/fixtures/container-definitions-existing-service.json, your roles
# given the module's policies, the volumes added.

mock_provider "aws" {
  source = "../../../terraform/modules/firelens-router/tests/mocks"

  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn                  = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7"
      arn_without_revision = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web"
      revision             = 7
    }
  }
}

override_data {
  target = data.aws_iam_role.task
  values = { arn = "arn:aws:iam::123456789012:role/shop-web-task" }
}

override_data {
  target = data.aws_iam_role.execution
  values = { arn = "arn:aws:iam::123456789012:role/shop-web-execution" }
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
  app_image           = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42"
  router_image        = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
  task_role_name      = "shop-web-task"
  execution_role_name = "shop-web-execution"
  alert_email         = "oncall@example.com"
}

run "plan" {
  command = plan

  assert {
    condition = (
      aws_iam_role_policy.logging.role == "shop-web-task" &&
      aws_iam_role_policy.logging_execution.role == "shop-web-execution" &&
      aws_ecs_task_definition.app.network_mode == "awsvpc"
    )
    error_message = "The module's policies go to your roles; the task is awsvpc."
  }

  assert {
    condition = (
      toset([for v in aws_ecs_task_definition.app.volume : v.name]) == toset(["sink-proxy-spool", "firelens-tmp"]) &&
      length(aws_ecs_task_definition.app.ephemeral_storage) == 0
    )
    error_message = "The task gets the two volumes; the default spool fits Fargate's default storage."
  }
}

run "apply" {
  assert {
    condition     = jsondecode(aws_ecs_task_definition.app.container_definitions) == jsondecode(file("tests/fixtures/container-definitions-existing-service.json"))
    error_message = "The container definitions differ from tests/fixtures/container-definitions-existing-service.json."
  }

  assert {
    condition = (
      one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.dependsOn if c.name == "app"]) == [{ containerName = "log_router", condition = "START" }] &&
      one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.logConfiguration if c.name == "app"]) == { logDriver = "awsfirelens", options = { log-driver-buffer-limit = "65536" } } &&
      one([for c in jsondecode(aws_ecs_task_definition.app.container_definitions) : c.portMappings if c.name == "app"]) == [{ containerPort = 8080, protocol = "tcp" }]
    )
    error_message = "Your app keeps its settings, logs through FireLens (log-driver-buffer-limit only) and starts after the log router."
  }

  assert {
    condition = (
      jsondecode(aws_iam_role_policy.logging.policy).Id == "module_task" &&
      jsondecode(aws_iam_role_policy.logging_execution.policy).Id == "module_execution" &&
      aws_ecs_task_definition.app.task_role_arn == "arn:aws:iam::123456789012:role/shop-web-task" &&
      aws_ecs_task_definition.app.execution_role_arn == "arn:aws:iam::123456789012:role/shop-web-execution"
    )
    error_message = "Your task role carries the module's task policy, your execution role its execution policy."
  }

  assert {
    condition     = output.error_log_group == "/ecs/shop-web/errors" && output.archive_bucket == "shop-web-logs-20260101000000000000000004"
    error_message = "The module's destinations are created."
  }
}

# Your task definition, as you had it, with what the module adds between the
# "firelens-router" marks. It must use the awsvpc network mode (Fargate
# always does): the log router reaches sink-proxy on 127.0.0.1. Your
# service (aws_ecs_service.task_definition = aws_ecs_task_definition.app.arn)
# rolls out the new revision.

data "aws_iam_role" "task" {
  name = var.task_role_name
}

data "aws_iam_role" "execution" {
  name = var.execution_role_name
}

locals {
  # Your app's container, unchanged: no logConfiguration of its own (the
  # module's replaces it).
  app_container = {
    name         = "app"
    image        = var.app_image
    essential    = true
    portMappings = [{ containerPort = 8080, protocol = "tcp" }]
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = "shop-web"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = 512
  memory                   = 1024
  task_role_arn            = data.aws_iam_role.task.arn
  execution_role_arn       = data.aws_iam_role.execution.arn

  # firelens-router: from here
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
  # firelens-router: to here
}

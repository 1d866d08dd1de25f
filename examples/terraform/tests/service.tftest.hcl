# cluster_arn: the example service, with the deployment circuit breaker.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  app_image    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  cluster_arn        = "arn:aws:ecs:eu-west-1:123456789012:cluster/example"
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids = ["sg-0123456789abcdef0"]
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_ecs_service.app) == 1 &&
      aws_ecs_service.app[0].cluster == "arn:aws:ecs:eu-west-1:123456789012:cluster/example" &&
      aws_ecs_service.app[0].launch_type == "FARGATE"
    )
    error_message = "One Fargate service on the given cluster."
  }

  assert {
    condition = (
      aws_ecs_service.app[0].deployment_circuit_breaker[0].enable &&
      aws_ecs_service.app[0].deployment_circuit_breaker[0].rollback
    )
    error_message = "The circuit breaker rolls back a deployment whose tasks fail sink-proxy's startup check."
  }

  assert {
    condition = (
      aws_ecs_service.app[0].network_configuration[0].subnets == toset(["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]) &&
      aws_ecs_service.app[0].network_configuration[0].security_groups == toset(["sg-0123456789abcdef0"])
    )
    error_message = "The service runs in the given subnets and security groups."
  }
}

run "apply" {
  assert {
    condition     = aws_ecs_service.app[0].task_definition == "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7"
    error_message = "The service runs this task definition."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.app.container_definitions) == jsondecode(file("tests/fixtures/container-definitions-no-alerts.json"))
    error_message = "The service changes nothing in the containers."
  }
}

# slack_webhook_secret_arn: an existing secret; none is created.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  slack_webhook_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook-AbCdEf"
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_secretsmanager_secret.slack_webhook) == 0 &&
      length(aws_secretsmanager_secret_version.slack_webhook) == 0 &&
      length(data.aws_iam_policy_document.execution_secrets) == 1
    )
    error_message = "An existing secret: none is created, the execution role may read it."
  }

  assert {
    condition     = toset(one(data.aws_iam_policy_document.execution_secrets[0].statement).resources) == toset([var.slack_webhook_secret_arn])
    error_message = "The read grant names the given secret's full ARN (known at plan time)."
  }
}

run "apply" {
  assert {
    condition = jsondecode(jsonencode(concat(output.container_definitions, [
      merge({ name = "app", image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42", essential = true }, output.app_container_settings),
    ]))) == jsondecode(file("tests/fixtures/container-definitions-slack-secret.json"))
    error_message = "The container definitions differ from tests/fixtures/container-definitions-slack-secret.json."
  }

  assert {
    condition = output.sink_proxy_container.secrets == [
      { name = "SINK_PROXY_SLACK_WEBHOOK_URL", valueFrom = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook-AbCdEf" },
    ]
    error_message = "sink-proxy gets the given secret as SINK_PROXY_SLACK_WEBHOOK_URL."
  }

  assert {
    condition     = tolist(data.aws_iam_policy_document.execution.source_policy_documents) == tolist([data.aws_iam_policy_document.execution_secrets[0].json])
    error_message = "The read grant is in the execution role's policy."
  }
}

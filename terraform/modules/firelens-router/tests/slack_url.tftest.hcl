# slack_webhook_url: a secret is created from it and injected into sink-proxy.
# The plan must work although the new secret's ARN is unknown until apply
# (it failed with "Invalid count argument" at execution_secrets).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  slack_webhook_url = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_secretsmanager_secret.slack_webhook) == 1 &&
      length(aws_secretsmanager_secret_version.slack_webhook) == 1 &&
      length(data.aws_iam_policy_document.execution_secrets) == 1
    )
    error_message = "A Slack URL creates the secret, its version and the execution role's read grant, all known at plan time."
  }

  assert {
    condition     = length(data.aws_iam_policy_document.task_alerts) == 0 && length(aws_sns_topic_subscription.email) == 0
    error_message = "Slack alone grants no SNS publish and subscribes no email."
  }
}

run "apply" {
  assert {
    condition = (
      aws_secretsmanager_secret_version.slack_webhook[0].secret_id == aws_secretsmanager_secret.slack_webhook[0].id &&
      nonsensitive(aws_secretsmanager_secret_version.slack_webhook[0].secret_string == var.slack_webhook_url)
    )
    error_message = "The secret holds the given URL."
  }

  assert {
    condition = output.sink_proxy_container.secrets == [
      { name = "SINK_PROXY_SLACK_WEBHOOK_URL", valueFrom = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web-slack-webhook-20260101000000000000000003-Xy12Ab" },
    ]
    error_message = "sink-proxy gets the created secret's ARN as SINK_PROXY_SLACK_WEBHOOK_URL in its secrets."
  }

  assert {
    condition     = !strcontains(jsonencode(output.container_definitions), "hooks.slack.com")
    error_message = "The webhook URL itself is not in the container definitions."
  }

  assert {
    condition = (
      tolist(data.aws_iam_policy_document.execution.source_policy_documents) == tolist([data.aws_iam_policy_document.execution_secrets[0].json]) &&
      jsondecode(data.aws_iam_policy_document.execution_secrets[0].json).Id == "execution_secrets" &&
      toset(one(data.aws_iam_policy_document.execution_secrets[0].statement).actions) == toset(["secretsmanager:GetSecretValue"]) &&
      toset(one(data.aws_iam_policy_document.execution_secrets[0].statement).resources) == toset(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web-slack-webhook-20260101000000000000000003-Xy12Ab"])
    )
    error_message = "The execution role's policy (which ECS reads secrets with) may read this secret, by its full ARN."
  }

  assert {
    condition     = !anytrue([for s in data.aws_iam_policy_document.task_logging.statement : anytrue([for a in s.actions : startswith(a, "secretsmanager:")])])
    error_message = "The task role cannot read secrets."
  }

  assert {
    condition     = output.slack_secret_arn == aws_secretsmanager_secret.slack_webhook[0].arn
    error_message = "The output names the created secret."
  }
}

# Turning options on and off on a deployed stack: Slack and SNS added to a
# running module (the new secret's ARN unknown at that plan), then removed.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"
}

run "none" {
  assert {
    condition     = length(aws_secretsmanager_secret.slack_webhook) == 0
    error_message = "Starts without Slack."
  }
}

run "add_slack_and_sns" {
  variables {
    slack_webhook_url   = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
    proxy_alerts_to_sns = true
    alert_email         = "oncall@example.com"
  }

  assert {
    condition = (
      length(aws_secretsmanager_secret.slack_webhook) == 1 &&
      length(data.aws_iam_policy_document.execution_secrets) == 1 &&
      length(data.aws_iam_policy_document.task_alerts) == 1 &&
      length(aws_sns_topic_subscription.email) == 1
    )
    error_message = "Slack, SNS and email are added to the existing stack."
  }

  assert {
    condition = jsondecode(jsonencode(concat(output.container_definitions, [
      merge({ name = "app", image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42", essential = true }, output.app_container_settings),
    ]))) == jsondecode(file("tests/fixtures/container-definitions-all-alerts.json"))
    error_message = "After the update the containers are as in a fresh apply (tests/fixtures/container-definitions-all-alerts.json)."
  }
}

run "remove_them" {
  assert {
    condition = (
      length(aws_secretsmanager_secret.slack_webhook) == 0 &&
      length(data.aws_iam_policy_document.execution_secrets) == 0 &&
      length(data.aws_iam_policy_document.task_alerts) == 0 &&
      length(aws_sns_topic_subscription.email) == 0
    )
    error_message = "Unset, they are removed."
  }

  assert {
    condition = jsondecode(jsonencode(concat(output.container_definitions, [
      merge({ name = "app", image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42", essential = true }, output.app_container_settings),
    ]))) == jsondecode(file("tests/fixtures/container-definitions-no-alerts.json"))
    error_message = "The containers are back to tests/fixtures/container-definitions-no-alerts.json."
  }
}

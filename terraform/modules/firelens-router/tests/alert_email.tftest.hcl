# alert_email: the topic gets an email subscription; nothing else changes.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  alert_email = "oncall@example.com"
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_sns_topic_subscription.email) == 1 &&
      aws_sns_topic_subscription.email[0].protocol == "email" &&
      aws_sns_topic_subscription.email[0].endpoint == "oncall@example.com"
    )
    error_message = "One email subscription to the given address."
  }

  assert {
    condition = (
      length(aws_secretsmanager_secret.slack_webhook) == 0 &&
      length(data.aws_iam_policy_document.execution_secrets) == 0 &&
      length(data.aws_iam_policy_document.task_alerts) == 0
    )
    error_message = "Email alone creates no Slack secret and grants the task no SNS publish."
  }
}

run "apply" {
  assert {
    condition     = aws_sns_topic_subscription.email[0].topic_arn == "arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001"
    error_message = "The subscription is on the alerts topic."
  }

  assert {
    condition = jsondecode(jsonencode(concat(output.container_definitions, [
      merge({ name = "app", image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42", essential = true }, output.app_container_settings),
    ]))) == jsondecode(file("tests/fixtures/container-definitions-no-alerts.json"))
    error_message = "Email alerts come from the alarm: the containers are as with no alerts (tests/fixtures/container-definitions-no-alerts.json)."
  }
}

# Everything at once: email, Slack from a URL, per-task SNS alerts, and the
# service.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  app_image    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  alert_email         = "oncall@example.com"
  slack_webhook_url   = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
  proxy_alerts_to_sns = true
  cluster_arn         = "arn:aws:ecs:eu-west-1:123456789012:cluster/example"
  subnet_ids          = ["subnet-0123456789abcdef0"]
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_sns_topic_subscription.email) == 1 &&
      length(aws_secretsmanager_secret.slack_webhook) == 1 &&
      length(aws_secretsmanager_secret_version.slack_webhook) == 1 &&
      length(aws_iam_role_policy.execution_secrets) == 1 &&
      length(aws_iam_role_policy.task_alerts) == 1 &&
      length(aws_ecs_service.app) == 1 &&
      length(aws_kms_key.alerts) == 1
    )
    error_message = "Every optional resource is planned, the counts known before apply."
  }
}

run "apply" {
  assert {
    condition     = jsondecode(aws_ecs_task_definition.app.container_definitions) == jsondecode(file("tests/fixtures/container-definitions-all-alerts.json"))
    error_message = "The container definitions differ from tests/fixtures/container-definitions-all-alerts.json."
  }

  assert {
    condition = (
      toset(one(data.aws_iam_policy_document.execution_secrets.statement).resources) == toset([aws_secretsmanager_secret.slack_webhook[0].arn]) &&
      toset(one([for s in data.aws_iam_policy_document.task_alerts.statement : s.resources if s.sid == "AlertsTopicKey"])) == toset([aws_kms_key.alerts[0].arn]) &&
      aws_sns_topic.alerts.kms_master_key_id == aws_kms_key.alerts[0].arn &&
      aws_sns_topic_subscription.email[0].topic_arn == aws_sns_topic.alerts.arn
    )
    error_message = "The secret, the key and the topic are wired together as in the single-option cases."
  }

  assert {
    condition     = aws_ecs_service.app[0].task_definition == aws_ecs_task_definition.app.arn
    error_message = "The service runs this task definition."
  }
}

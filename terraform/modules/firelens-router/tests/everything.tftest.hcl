# Everything at once: email, Slack from a URL, per-task SNS alerts, the
# stack-trace include, a larger spool.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  alert_email         = "oncall@example.com"
  slack_webhook_url   = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
  proxy_alerts_to_sns = true
}

run "plan" {
  command = plan

  assert {
    condition = (
      length(aws_sns_topic_subscription.email) == 1 &&
      length(aws_secretsmanager_secret.slack_webhook) == 1 &&
      length(aws_secretsmanager_secret_version.slack_webhook) == 1 &&
      length(data.aws_iam_policy_document.execution_secrets) == 1 &&
      length(data.aws_iam_policy_document.task_alerts) == 1 &&
      length(aws_kms_key.alerts) == 1
    )
    error_message = "Every optional resource is planned, the counts known before apply."
  }
}

run "apply" {
  assert {
    condition = jsondecode(jsonencode(concat(output.container_definitions, [
      merge({ name = "app", image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42", essential = true }, output.app_container_settings),
    ]))) == jsondecode(file("tests/fixtures/container-definitions-all-alerts.json"))
    error_message = "The container definitions differ from tests/fixtures/container-definitions-all-alerts.json."
  }

  assert {
    condition = (
      toset(one(data.aws_iam_policy_document.execution_secrets[0].statement).resources) == toset([aws_secretsmanager_secret.slack_webhook[0].arn]) &&
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.resources if s.sid == "AlertsTopicKey"])) == toset([aws_kms_key.alerts[0].arn]) &&
      aws_sns_topic.alerts[0].kms_master_key_id == aws_kms_key.alerts[0].arn &&
      aws_sns_topic_subscription.email[0].topic_arn == aws_sns_topic.alerts[0].arn
    )
    error_message = "The secret, the key and the topic are wired together as in the single-option cases."
  }

  assert {
    condition = alltrue([for s in concat(
      data.aws_iam_policy_document.task_logging.statement,
      data.aws_iam_policy_document.task_alerts[0].statement,
      data.aws_iam_policy_document.execution.statement,
      data.aws_iam_policy_document.execution_secrets[0].statement,
      ) : alltrue([
        for a in s.actions : alltrue([for r in s.resources : startswith(r, "arn:aws:") && split(":", r)[2] == split(":", a)[0] && (!strcontains(r, "*") || endswith(r, ":*"))])
    ])])
    error_message = "With every option on, every task and execution role action is still scoped to a resource of its own service."
  }
}

# The other alerting options together: an existing secret and key, email,
# per-task SNS, and the stack-trace include.
run "existing_secret_and_key" {
  variables {
    slack_webhook_url        = ""
    slack_webhook_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-web/slack-webhook-AbCdEf"
    alerts_kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"
    include                  = "/fluent-bit/firelens/firelens-stacktraces.conf"
  }

  assert {
    condition = (
      length(aws_secretsmanager_secret.slack_webhook) == 0 &&
      length(aws_kms_key.alerts) == 0 &&
      length(aws_sns_topic_subscription.email) == 1 &&
      toset(one(data.aws_iam_policy_document.execution_secrets[0].statement).resources) == toset([var.slack_webhook_secret_arn]) &&
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.resources if s.sid == "AlertsTopicKey"])) == toset([var.alerts_kms_key_arn]) &&
      aws_sns_topic.alerts[0].kms_master_key_id == var.alerts_kms_key_arn
    )
    error_message = "The given secret and key replace the created ones; email and SNS as before."
  }

  assert {
    condition     = output.log_router_container.firelensConfiguration.options["config-file-value"] == "/fluent-bit/firelens/firelens-stacktraces.conf"
    error_message = "FireLens loads the chosen include."
  }
}

# proxy_alerts_to_sns: each task's sink-proxy publishes its grouped alerts to
# the topic, so the task role may publish and use the topic's key.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  proxy_alerts_to_sns = true
}

run "plan" {
  command = plan

  assert {
    condition     = length(data.aws_iam_policy_document.task_alerts) == 1
    error_message = "The task role gets the publish grant."
  }

  assert {
    condition     = length(aws_secretsmanager_secret.slack_webhook) == 0 && length(data.aws_iam_policy_document.execution_secrets) == 0
    error_message = "SNS alone creates no Slack secret."
  }
}

run "apply" {
  assert {
    condition     = tolist(data.aws_iam_policy_document.task.source_policy_documents) == tolist([data.aws_iam_policy_document.task_logging.json, data.aws_iam_policy_document.task_alerts[0].json])
    error_message = "The publish grant is in the task role's policy (sink-proxy publishes)."
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.actions if s.sid == "AlertsToSns"])) == toset(["sns:Publish"]) &&
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.resources if s.sid == "AlertsToSns"])) == toset(["arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001"])
    )
    error_message = "sns:Publish on the alerts topic only."
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.actions if s.sid == "AlertsTopicKey"])) == toset(["kms:GenerateDataKey*", "kms:Decrypt"]) &&
      toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.resources if s.sid == "AlertsTopicKey"])) == toset(["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
    )
    error_message = "kms:GenerateDataKey* and kms:Decrypt on the topic's key only (publishing to an encrypted topic needs them)."
  }

  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.task_alerts[0].statement : alltrue([
      for a in s.actions : alltrue([for r in s.resources : split(":", r)[2] == split(":", a)[0] && !strcontains(r, "*")])
    ])])
    error_message = "Every alerts action is scoped to a resource of its own service."
  }

  assert {
    condition = contains(
      output.sink_proxy_container.environment,
      { name = "SINK_PROXY_ALERT_SNS_TOPIC_ARN", value = "arn:aws:sns:eu-west-1:123456789012:shop-web-alerts-20260101000000000000000001" }
    )
    error_message = "sink-proxy is given the topic's ARN (SINK_PROXY_ALERT_SNS_TOPIC_ARN)."
  }
}

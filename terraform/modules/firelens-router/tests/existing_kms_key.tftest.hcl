# alerts_kms_key_arn: an existing key for the topic; none is created.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name         = "shop-web"
  router_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0"

  alerts_kms_key_arn  = "arn:aws:kms:eu-west-1:123456789012:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"
  proxy_alerts_to_sns = true
}

run "plan" {
  command = plan

  assert {
    condition     = length(aws_kms_key.alerts) == 0 && length(aws_kms_alias.alerts) == 0
    error_message = "No key is created when one is given."
  }

  assert {
    condition     = aws_sns_topic.alerts[0].kms_master_key_id == var.alerts_kms_key_arn && output.alerts_kms_key_arn == var.alerts_kms_key_arn
    error_message = "The topic uses the given key (and the output names it)."
  }
}

run "apply" {
  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.task_alerts[0].statement : s.resources if s.sid == "AlertsTopicKey"])) == toset(["arn:aws:kms:eu-west-1:123456789012:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"])
    error_message = "The task role may use the given key (to publish to the topic)."
  }
}

# The log router added to a task definition you already have: this file,
# and the lines between the "firelens-router" marks in task-definition.tf
# (under 30 lines in all; tests/tests/e2e/deployment.rs counts them).
# Outside this repository, source the module from git:
#   source = "git::https://<this repository>.git//terraform/modules/firelens-router?ref=<tag>"

module "logging" {
  source = "../../../terraform/modules/firelens-router"

  name         = "shop-web"
  router_image = var.router_image
  alert_email  = var.alert_email
}

resource "aws_iam_role_policy" "logging" {
  role   = var.task_role_name
  policy = module.logging.task_role_policy_json
}

resource "aws_iam_role_policy" "logging_execution" {
  role   = var.execution_role_name
  policy = module.logging.execution_role_policy_json
}

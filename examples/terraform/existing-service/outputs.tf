output "task_definition_arn" {
  value = aws_ecs_task_definition.app.arn
}

output "error_log_group" {
  value = module.logging.error_log_group_name
}

output "archive_bucket" {
  value = module.logging.archive_bucket
}

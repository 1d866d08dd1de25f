output "url" {
  description = "The sample app, behind the load balancer: GET / (an access line), GET /error (an ERROR line, a traceback, a 500: an alert)"
  value       = "http://${aws_lb.app.dns_name}"
}

output "cluster_name" {
  value = aws_ecs_cluster.main.name
}

output "service_name" {
  value = aws_ecs_service.app.name
}

output "task_definition_arn" {
  value = aws_ecs_task_definition.app.arn
}

output "task_role_arn" {
  value = aws_iam_role.task.arn
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}

output "router_image" {
  description = "The log router image the task runs"
  value       = local.router_image
}

output "image_push_command" {
  description = "Builds and pushes the router image by hand (with build_image = false, or to rebuild): one line"
  value       = local.build_in_ecr ? local.push_command : null
}

output "health_check_path" {
  description = "The path the load balancer checks; the log router drops those requests' access lines"
  value       = aws_lb_target_group.app.health_check[0].path
}

output "error_log_group" {
  value = module.logging.error_log_group_name
}

output "router_log_group" {
  value = module.logging.router_log_group_name
}

output "archive_bucket" {
  value = module.logging.archive_bucket
}

output "athena_table" {
  value = module.logging.athena_table
}

output "alerts_topic_arn" {
  value = module.logging.alerts_topic_arn
}

output "dashboard_name" {
  value = module.logging.dashboard_name
}

output "exec_command" {
  description = "A shell in a running task's app container (ECS Exec; needs the Session Manager plugin of the AWS CLI)"
  value       = "aws ecs execute-command --cluster ${aws_ecs_cluster.main.name} --container app --interactive --command /bin/sh --task $(aws ecs list-tasks --cluster ${aws_ecs_cluster.main.name} --service-name ${aws_ecs_service.app.name} --query 'taskArns[0]' --output text)"
}

output "archive_bucket_arn" {
  value = module.logging.archive_bucket_arn
}

output "delivery_stream_name" {
  value = module.logging.delivery_stream_name
}

output "alerts_kms_key_arn" {
  description = "The alerts topic's KMS key"
  value       = module.logging.alerts_kms_key_arn
}

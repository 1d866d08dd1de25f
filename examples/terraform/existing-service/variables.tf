# What you have already: the app's image and the task's two roles.

variable "app_image" {
  description = "Your app's image"
  type        = string
  validation {
    condition     = length(var.app_image) > 0 && !can(regex("\\s", var.app_image))
    error_message = "app_image: an image reference such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:42 (no spaces)."
  }
}

variable "task_role_name" {
  description = "Your task role's name (the module's task policy is added to it)"
  type        = string
  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.task_role_name))
    error_message = "task_role_name: an IAM role's name (not its ARN), such as shop-web-task."
  }
}

variable "execution_role_name" {
  description = "Your task execution role's name (the module's execution policy is added to it; it keeps its image-pull permissions)"
  type        = string
  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.execution_role_name))
    error_message = "execution_role_name: an IAM role's name (not its ARN), such as shop-web-execution."
  }
}

# And what the log router needs.

variable "router_image" {
  description = "The image built from this repository's Dockerfile, pushed to a registry the execution role can pull from"
  type        = string
  validation {
    condition     = length(var.router_image) > 0 && !can(regex("\\s", var.router_image))
    error_message = "router_image: an image reference such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/firelens-router:1.0.0 (no spaces)."
  }
}

variable "alert_email" {
  description = "Who is told when the service logs errors; empty: nobody yet"
  type        = string
  default     = ""
  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email: empty or one email address, such as oncall@example.com."
  }
}

//! End to end, in one test binary (each one more would cost CI a link of
//! every dependency): the labelled corpus through the module and the proxy
//! (`corpus`); the shipped include, rules and settings (`shipped_config`);
//! the ECS example, the Terraform module and its examples (`deployment`,
//! `firelens_rules`); joined long lines and stack traces through the
//! module (`joined`); the lean include's path,
//! classified by the proxy (`lean`); and operating it: alerts
//! (`alerts`), metrics as EMF (`emf`), the startup check behind the
//! container health check (`startup`), and the log router's command in the
//! image (`router_start`). The reliability suite, long and
//! CPU-heavy, is a binary of its own so that it runs alone.

mod alerts;
mod corpus;
mod deployment;
mod emf;
mod firelens_rules;
mod joined;
mod lean;
mod router_start;
mod shipped_config;
mod startup;

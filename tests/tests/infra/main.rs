//! Tier `infra`: what ships besides the code: `template.yaml` (linters, SAM's own translator,
//! and its agreement with the code's tables), the Dockerfile and compose stack, the Lambda
//! artefacts (built by the script and by `sam build`), what each function binary links, and the
//! laptop's Prometheus rules and Grafana dashboard.

mod cdk;
mod containers;
mod lambda_artifacts;
mod linked;
mod openapi;
mod prometheus;
mod sam_build;
mod template;

//! Tier `api`: the functions in process, on real Lambda event payloads through lambda_http's own
//! parsing and serialisation, against a real PostgreSQL and Redis; each test gets its own
//! database, key prefix and client IP. One test binary, one module per subject.

mod captcha;
mod config;
mod failures;
mod fixtures_parse;
mod hardening;
mod health;
mod login;
mod register;
mod roles;
mod servers;
mod smoke;
mod storage;
mod tokens;
mod totp;
mod users;
mod wire;

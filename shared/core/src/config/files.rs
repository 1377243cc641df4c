//! The shipped configuration files, compiled into every binary (a Lambda zip holds only
//! `bootstrap`).

/// The text of a shipped file under `configs/`, by name.
pub(crate) fn embedded_file(name: &str) -> Option<&'static str> {
    match name {
        "config.yaml" => Some(include_str!("../../../../configs/config.yaml")),
        "config.dev.yaml" => Some(include_str!("../../../../configs/config.dev.yaml")),
        "config.test.yaml" => Some(include_str!("../../../../configs/config.test.yaml")),
        "config.prod.yaml" => Some(include_str!("../../../../configs/config.prod.yaml")),
        _ => None,
    }
}

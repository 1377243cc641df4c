//! The linters: cfn-lint and `sam validate --lint` accept the template.

use super::*;

#[test]
fn cfn_lint_accepts_the_template() {
    let output = run_offline(&tool("cfn-lint"), &["template.yaml"]);
    assert_success("cfn-lint template.yaml", &output);
}

#[test]
fn sam_validate_lint_accepts_the_template() {
    let output = run_offline(
        &tool("sam"),
        &["validate", "--lint", "--template", "template.yaml"],
    );
    assert_success("sam validate --lint", &output);
}

# What `sam build` runs. template.yaml builds every function with `BuildMethod: makefile`, in
# place (samconfig.toml: build_in_source), so SAM calls `make build-<LogicalId>` here with
# ARTIFACTS_DIR set. scripts/build-lambda.sh reads the function's binary from its
# Metadata.BuildProperties.Binary in template.yaml, builds it (the project's one build: pinned
# cargo-lambda and zig, glibc 2.34, the workspace's release profile, and its checks) and copies
# the bootstrap into ARTIFACTS_DIR. Cargo's cache is the workspace's target/: the functions share
# one dependency build and a rebuild is incremental. REDLINE_LAMBDA_PROFILE picks another cargo
# profile (the test suite builds with lambda-check).

build-%:
	scripts/build-lambda.sh --resource "$*" --artifacts-dir "$(ARTIFACTS_DIR)"

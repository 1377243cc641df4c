#!/usr/bin/env python3
"""Prints the CloudFormation JSON that SAM's own translator makes of a SAM template, offline.

The one entry point to AWS SAM's transform for the tests (Globals, routes, CORS, roles) and the
CDK parity check. Run it with the python of the project's venv (scripts/install-tools.sh):

    .local/venv/bin/python scripts/sam-transform.py template.yaml ['{"Param": "value"}']

The second argument is the parameter values as a JSON object (a CommaDelimitedList as a list, as
CloudFormation hands it to the transform). What the transform needs from AWS is stood in for:
- a region (AWS_DEFAULT_REGION, us-east-1 when unset), which the translator reads for ARNs;
- each local CodeUri (a path, as before `sam package`) becomes s3://redline-artifacts/<id>.zip,
  <id> being the function's logical id or "Globals";
- the managed-policy name map, fetched from IAM by SAM, is empty: policies named by ARN only.
A template SAM refuses prints its messages on stderr and exits 1.
"""

import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

ARTIFACTS = "s3://redline-artifacts"


def is_local(code_uri):
    return isinstance(code_uri, str) and not code_uri.startswith("s3://")


def with_packaged_code(template):
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    if is_local(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = f"{ARTIFACTS}/Globals.zip"
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        if is_local(properties.get("CodeUri")):
            properties["CodeUri"] = f"{ARTIFACTS}/{logical_id}.zip"
    return template


class NoManagedPolicies:
    def load(self):
        return {}


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(f"usage: {sys.argv[0]} TEMPLATE [PARAMETERS_JSON]")
    with open(sys.argv[1], encoding="utf-8") as f:
        template = with_packaged_code(yaml_parse(f.read()))
    parameters = json.loads(sys.argv[2]) if len(sys.argv) == 3 else {}
    try:
        output = transform(template, parameters, NoManagedPolicies())
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(cause.message, file=sys.stderr)
        sys.exit(1)
    json.dump(output, sys.stdout)


if __name__ == "__main__":
    main()

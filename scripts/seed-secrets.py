#!/usr/bin/env python3
"""Creates every secret of a local secrets file in a Secrets Manager endpoint (the moto emulator
of docker-compose.yml), so that the functions resolve the dev configuration's secretsmanager:
references through the real SDK path.

    seed-secrets.py configs/secrets.dev.json

The file is a JSON object: secret id -> value. A JSON object (or list) value is stored as its JSON
text, a string as it is. The endpoint, credentials and region come from the standard variables
(AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION or AWS_DEFAULT_REGION). Idempotent: a secret that exists gets the file's value as a
new AWSCURRENT version. Needs boto3 (the moto image has it).
"""

import json
import os
import sys

import boto3


def secret_string(secret_id, value):
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    raise SystemExit(f"{secret_id}: a value must be a JSON object, list or string")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: seed-secrets.py SECRETS_FILE")
    with open(sys.argv[1], encoding="utf-8") as handle:
        secrets = json.load(handle)
    if not isinstance(secrets, dict) or not secrets:
        raise SystemExit(f"{sys.argv[1]}: must be a non-empty JSON object of secret id -> value")

    endpoint = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get(
        "AWS_ENDPOINT_URL"
    )
    if not endpoint:
        # Seeding real AWS from a development file is never what was meant.
        raise SystemExit("set AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL (the emulator's URL)")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=region)

    for secret_id, value in secrets.items():
        text = secret_string(secret_id, value)
        try:
            client.create_secret(Name=secret_id, SecretString=text)
            print(f"created {secret_id}")
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=secret_id, SecretString=text)
            print(f"updated {secret_id}")


if __name__ == "__main__":
    main()

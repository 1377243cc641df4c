#!/usr/bin/env python3
"""Generate API Gateway event fixtures with the event builder of `sam local start-api`.

`sam local start-api` cannot run on the development machines (it needs Docker), but the code it
uses to turn an HTTP request into the Lambda event can: `sam local start-api` serves a Flask app
(samcli/local/apigw/local_apigw_service.py) and, for each request, calls
`samcli.local.apigw.event_constructor.construct_v1_event` (REST `Api` events, and `HttpApi` with
payload 1.0) or `construct_v2_event_http` (`HttpApi` with payload 2.0) on the Flask request. This
script builds a Flask app configured like that service (the same catch-all path converter, no
strict slashes, one URL rule per route with the API Gateway path converted the same way), pushes
a Flask test request context for each request below (which matches the URL rule, so
`request.endpoint` and `request.view_args` are what the real server would see), and calls those
two functions unchanged.

Generated with aws-sam-cli 1.170.0 (Flask 3.1.3, Werkzeug 3.1.9, Python 3.11).

Output, in tests/fixtures/events/:
  sam-local-v1-post-login.json       REST API (payload 1.0), stage "Prod"
  sam-local-v2-get-lock-status.json  HTTP API (payload 2.0), stage "$default", cookies
  sam-local-v2-post-register.json    HTTP API (payload 2.0), JSON body

The only values rewritten after SAM built the event are the ones that change on every run:
requestContext.requestId (a UUID derived from the file name) and the request time
(15 Jan 2025 10:30:00 UTC, in the unit SAM uses: milliseconds in payload 1.0, seconds in 2.0).
So a rerun with the same aws-sam-cli version reproduces the files byte for byte.

Rerun (from the repository root):
    python3 scripts/gen-sam-fixtures.py           # write the fixtures
    python3 scripts/gen-sam-fixtures.py --check   # exit 1 if a committed fixture differs

The script installs aws-sam-cli (pinned below) into the git-ignored virtualenv .local/venv
on first use (about a minute; later runs take seconds) and re-runs itself with that
virtualenv's Python. SAM_CLI_TELEMETRY=0 is set for everything it runs. To move to a newer
aws-sam-cli, change SAM_CLI_VERSION, rerun, review the fixture diff, and update the version above.
"""

import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

SAM_CLI_VERSION = "1.170.0"

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".local" / "venv"
VENV_PYTHON = VENV / "bin" / "python"
OUT_DIR = REPO / "tests" / "fixtures" / "events"

# What `sam local start-api` listens on by default, and the client address of a local curl.
SAM_PORT = 3000
CLIENT_IP = "127.0.0.1"
CLIENT_HEADERS = {"User-Agent": "curl/8.5.0", "Accept": "*/*"}

# Fixed request time for reproducible files.
FIXED_TIME = datetime(2025, 1, 15, 10, 30, 0, tzinfo=timezone.utc)
FIXED_TIME_TEXT = FIXED_TIME.strftime("%d/%b/%Y:%H:%M:%S +0000")


def ensure_sam_cli():
    """Run under .local/venv (created if missing) with the pinned aws-sam-cli (installed if missing)."""
    os.environ["SAM_CLI_TELEMETRY"] = "0"
    if Path(sys.prefix).resolve() != VENV.resolve():
        if not VENV_PYTHON.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])

    import importlib
    from importlib.metadata import PackageNotFoundError, version

    try:
        if version("aws-sam-cli") == SAM_CLI_VERSION:
            return
    except PackageNotFoundError:
        pass
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", f"aws-sam-cli=={SAM_CLI_VERSION}"],
        check=True,
    )
    importlib.invalidate_caches()


def sam_app(routes):
    """A Flask app set up like samcli.local.apigw.local_apigw_service.LocalApigwService.create()."""
    from flask import Flask
    from samcli.local.apigw.local_apigw_service import CatchAllPathConverter
    from samcli.local.apigw.path_converter import PathConverter

    app = Flask("sam_local_fixtures")
    app.url_map.converters["path"] = CatchAllPathConverter
    app.url_map.strict_slashes = False
    for methods, apigw_path in routes:
        path = PathConverter.convert_path_to_flask(apigw_path)
        app.add_url_rule(
            path,
            endpoint=path,
            view_func=lambda **_: "",
            methods=methods,
            provide_automatic_options=False,
        )
    return app


def sam_event(payload, method, path, apigw_path, stage, query_string="", headers=None, body=None):
    """The event `sam local start-api` would send for this request to a route `apigw_path`."""
    from flask import request
    from samcli.local.apigw.event_constructor import construct_v1_event, construct_v2_event_http
    from samcli.local.apigw.path_converter import PathConverter
    from samcli.local.apigw.route import Route

    app = sam_app([([method], apigw_path)])
    all_headers = dict(CLIENT_HEADERS)
    all_headers.update(headers or {})
    with app.test_request_context(
        path,
        base_url=f"http://127.0.0.1:{SAM_PORT}",
        method=method,
        query_string=query_string,
        headers=all_headers,
        data=body,
        environ_base={"REMOTE_ADDR": CLIENT_IP, "SERVER_PROTOCOL": "HTTP/1.1"},
    ):
        assert request.endpoint is not None, f"{method} {path} matched no route"
        if payload == "1.0":
            # As LocalApigwService._generate_lambda_event for a REST API (Route.API) route.
            return construct_v1_event(
                flask_request=request,
                port=SAM_PORT,
                binary_types=[],
                stage_name=stage,
                stage_variables=None,
                operation_name=None,
                api_type=Route.API,
            )
        # As LocalApigwService._generate_lambda_event for an HttpApi route with payload 2.0.
        route_key = f"{method} {PathConverter.convert_path_to_api_gateway(request.endpoint)}"
        return construct_v2_event_http(
            flask_request=request,
            port=SAM_PORT,
            binary_types=[],
            stage_name=stage,
            stage_variables=None,
            route_key=route_key,
            request_time_epoch=int(FIXED_TIME.timestamp()),
            request_time=FIXED_TIME_TEXT,
        )


def normalise(name, event):
    """Replace the per-run values (request id, request time) by fixed ones."""
    context = event["requestContext"]
    context["requestId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"redline-fixture:{name}"))
    if "requestTimeEpoch" in context:  # payload 1.0: SAM fills these in at import time
        context["requestTimeEpoch"] = int(FIXED_TIME.timestamp()) * 1000
        context["requestTime"] = FIXED_TIME_TEXT
    return event


def fixtures():
    return {
        "sam-local-v1-post-login.json": sam_event(
            payload="1.0",
            method="POST",
            path="/api/v1/auth/login",
            apigw_path="/api/v1/auth/login",
            stage="Prod",
            query_string="lang=en&remember=true",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"email": "alice@example.com", "password": "correct horse battery staple"}),
        ),
        "sam-local-v2-get-lock-status.json": sam_event(
            payload="2.0",
            method="GET",
            path="/api/v1/auth/lock-status/alice%40example.com",
            apigw_path="/api/v1/auth/lock-status/{email}",
            stage="$default",
            query_string="verbose=1",
            headers={"Cookie": "session=abc123; theme=dark"},
        ),
        "sam-local-v2-post-register.json": sam_event(
            payload="2.0",
            method="POST",
            path="/api/v1/auth/register",
            apigw_path="/api/v1/auth/register",
            stage="$default",
            headers={"Content-Type": "application/json"},
            body=json.dumps(
                {"email": "bob@example.com", "password": "Tr0ub4dor&3-but-longer", "display_name": "Bob"}
            ),
        ),
    }


def main():
    ensure_sam_cli()
    check = "--check" in sys.argv[1:]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, event in fixtures().items():
        text = json.dumps(normalise(name, event), indent=2, sort_keys=True) + "\n"
        target = OUT_DIR / name
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(name)
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(REPO)}")
    if stale:
        print("out of date (rerun scripts/gen-sam-fixtures.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

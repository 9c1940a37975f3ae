"""The test bed's EKS token authenticator: a Kubernetes webhook token authenticator
(kube-apiserver --authentication-token-webhook-config-file, TokenReview v1) that checks
`k8s-aws-v1.` tokens the way EKS (aws-iam-authenticator) does, against the test bed's STS (moto).

    python webhook.py --listen 127.0.0.1:26447 --cluster nexus-testbed-eks \
        --sts-endpoint http://127.0.0.1:25055 --identities testbed/eks/identities.json

POST /authenticate  TokenReview in, TokenReview out (always HTTP 200; status.authenticated
                    false with status.error on a refusal, which the apiserver answers with 401)
GET  /healthz       "ok"

For each token: aws-iam-authenticator's checks (ekstoken.check_token), then the SigV4 signature
with the access key's secret from the identities file and `x-k8s-aws-id: <cluster>` (moto does
not check signatures; real STS does), then GET of the presigned URL on the STS endpoint, as
aws-iam-authenticator does, and the returned ARN is canonicalized and looked up in the
identities file's accessEntries (keyed by IAM principal ARN, like EKS access entries).
User: username = the ARN STS returned (EKS access entries' default: the user ARN, or
arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), uid and extra as aws-iam-authenticator,
groups = the entry's kubernetesGroups. An unmapped ARN is refused.

Test-only: the identities file holds fixed test credentials, not secrets.
"""

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import ekstoken

STS_TIMEOUT = 10


def log(msg):
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {msg}", file=sys.stderr, flush=True)


class Authenticator:
    def __init__(self, cluster, sts_endpoint, identities_file):
        self.cluster = cluster
        self.sts_endpoint = sts_endpoint
        with open(identities_file, encoding="utf-8") as f:
            doc = json.load(f)
        self.identities = {i["accessKeyId"]: i for i in doc["identities"]}
        self.entries = {e["principalArn"]: e for e in doc.get("accessEntries", [])}

    def caller_identity(self, url):
        """GET the presigned URL, as token.go does (x-k8s-aws-id and accept: application/json)."""
        req = urllib.request.Request(url, headers={
            ekstoken.K8S_AWS_ID_HEADER: self.cluster, "accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=STS_TIMEOUT) as r:
                body, ctype = r.read(), r.headers.get("content-type", "")
        except urllib.error.HTTPError as e:
            raise ekstoken.TokenError(
                f"error from AWS (expected 200, got {e.code}). Body: {e.read()[:300]!r}") from None
        except OSError as e:
            raise ekstoken.TokenError(f"error during GET: {e}") from None
        if "json" in ctype:  # real STS
            res = json.loads(body)["GetCallerIdentityResponse"]["GetCallerIdentityResult"]
            return res["Arn"], res["Account"], res["UserId"]
        # moto answers the query protocol in XML whatever the accept header says
        ns = "{https://sts.amazonaws.com/doc/2011-06-15/}"
        res = ET.fromstring(body).find(f"{ns}GetCallerIdentityResult")
        if res is None:
            raise ekstoken.TokenError(f"unexpected STS answer: {body[:300]!r}")
        return res.findtext(f"{ns}Arn"), res.findtext(f"{ns}Account"), res.findtext(f"{ns}UserId")

    def review(self, token):
        """Returns the TokenReview status for a token."""
        url, _ident, access_key_id = ekstoken.check_token(
            token, self.cluster, self.sts_endpoint, self.identities)
        arn, account, user_id = self.caller_identity(url)
        ptype, canonical = ekstoken.canonicalize(arn)
        session = ""
        if ptype not in ("federated-user", "user", "root"):
            parts = user_id.split(":")
            if len(parts) != 2:
                raise ekstoken.TokenError(f"malformed UserID {user_id!r}")
            user_id, session = parts
        entry = self.entries.get(canonical)
        if entry is None:
            raise ekstoken.TokenError(f"ARN is not mapped: {canonical}")
        return {
            "authenticated": True,
            "user": {
                "username": arn,
                "uid": f"aws-iam-authenticator:{account}:{user_id}",
                "groups": list(entry.get("kubernetesGroups", [])),
                "extra": {
                    "arn": [arn],
                    "canonicalArn": [canonical],
                    "sessionName": [session],
                    "accessKeyId": [access_key_id],
                    "principalId": [user_id],
                    "sigs.k8s.io/aws-iam-authenticator/principalId": [user_id],
                },
            },
        }


class Handler(BaseHTTPRequestHandler):
    auth: Authenticator = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one line per decision instead
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if urlsplit(self.path).path == "/healthz":
            self.reply(200, b"ok", "text/plain")
        else:
            self.reply(404, b"not found\n", "text/plain")

    def do_POST(self):
        # the apiserver's client adds ?timeout=...; the body is read first to keep the
        # connection usable whatever the answer
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if urlsplit(self.path).path != "/authenticate":
            self.reply(404, b"not found\n", "text/plain")
            return
        try:
            review = json.loads(body)
            token = review["spec"]["token"]
        except (ValueError, KeyError, TypeError):
            self.reply(400, b"expected a TokenReview\n", "text/plain")
            return
        t0 = time.monotonic()
        try:
            status = self.auth.review(token)
            log(f"access granted: username={status['user']['username']} "
                f"groups={status['user']['groups']} ({(time.monotonic() - t0) * 1000:.0f} ms)")
        except ekstoken.TokenError as e:
            status = {"authenticated": False, "error": f"nexus-testbed EKS token refused: {e}"}
            log(f"access denied: {e}")
        except Exception as e:  # never leave the apiserver without an answer
            status = {"authenticated": False, "error": f"nexus-testbed EKS webhook: {type(e).__name__}: {e}"}
            log(f"access denied: internal error: {type(e).__name__}: {e}")
        self.reply(200, {
            "apiVersion": review.get("apiVersion", "authentication.k8s.io/v1"),
            "kind": "TokenReview",
            "status": status,
        })


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:26447")
    p.add_argument("--cluster", required=True)
    p.add_argument("--sts-endpoint", required=True)
    p.add_argument("--identities", required=True)
    p.add_argument("--rev", help="ignored (scripts/testbed: restart on a change of these files)")
    a = p.parse_args()
    Handler.auth = Authenticator(a.cluster, a.sts_endpoint, a.identities)
    host, port = a.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    log(f"listening on http://{a.listen}/authenticate for cluster {a.cluster}, STS {a.sts_endpoint}")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    threading.current_thread().name = "webhook"
    main()

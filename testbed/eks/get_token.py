"""EKS tokens as `aws eks get-token` makes them, and their known-answer vectors.

Print a token (JSON: url, token, and the signature's intermediate strings):
    get_token.py --cluster NAME [--identity admin|viewer | --access-key-id K --secret-access-key S
                 [--session-token T]] [--region us-east-1] [--endpoint URL]
                 [--time 2026-01-02T03:04:05Z | --ago SECONDS] [--token-only | --exec-credential]
  --identity takes the test-only credentials from testbed/eks/identities.json.
  --endpoint is the STS endpoint (default: botocore's for the region,
  https://sts.REGION.amazonaws.com; the test bed's webhook wants http://127.0.0.1:25055).
  --exec-credential prints what `aws eks get-token` prints (an ExecCredential, apiVersion from
  KUBERNETES_EXEC_INFO, default v1beta1, expiring 14 minutes after signing), so a kubeconfig
  `exec` user can run this script (scripts/testbed writes <state>/eks/get-token for that).

Known-answer vectors (testbed/eks/token-vectors.json, read by a Rust unit test):
    get_token.py --write-vectors FILE    regenerate
    get_token.py --check-vectors FILE    regenerate in memory and compare; exit 1 on a difference

Each vector's signature is computed twice: by botocore's presigner (what awscli runs) and by a
from-the-spec SigV4 implementation below; they must agree. Runs in the test bed's moto venv
(botocore pinned in testbed/moto/requirements.txt). AWS_* environment variables are ignored.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import sys
from urllib.parse import parse_qsl, quote, urlsplit

import botocore

import ekstoken

HERE = os.path.dirname(os.path.abspath(__file__))

# AWS's documentation example credentials and the test bed's test-only ones: no real secrets.
VECTORS = [
    {
        "name": "aws-regional-endpoint",
        "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
        "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        "sessionToken": None,
        "region": "us-east-1",
        "clusterName": "nexus-prod",
        "time": "2026-01-02T03:04:05Z",
        "endpoint": None,
    },
    {
        "name": "session-token-eu-west-1-midnight",
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
        "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQ+/=",
        "region": "eu-west-1",
        "clusterName": "team-a.staging",
        "time": "2025-12-31T23:59:59Z",
        "endpoint": None,
    },
    {
        "name": "testbed-sts-endpoint",
        "accessKeyId": "AKIANEXUSTESTBED0001",
        "secretAccessKey": "TESTBEDONLYnotArealSECRETnexusDevEks0001",
        "sessionToken": None,
        "region": "us-east-1",
        "clusterName": "nexus-testbed-eks",
        "time": "2026-12-01T12:00:00Z",
        "endpoint": "http://127.0.0.1:25055",
    },
]


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")


# ---- SigV4 from the spec (no botocore), to cross-check the presigner ----
def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def spec_sigv4(url, secret, cluster):
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"]
    q = dict(pairs)
    enc = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    host = parts.netloc
    if (parts.scheme, parts.port) in (("https", 443), ("http", 80)):
        host = parts.hostname
    canonical_request = "\n".join([
        "GET", parts.path or "/", "&".join(f"{k}={v}" for k, v in enc),
        f"host:{host}\nx-k8s-aws-id:{cluster}\n", "host;x-k8s-aws-id",
        hashlib.sha256(b"").hexdigest(),
    ])
    _ak, date, region, service, term = q["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/{term}"
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", q["X-Amz-Date"], scope,
        hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
    ])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), term)
    return canonical_request, string_to_sign, hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def compute(v):
    """The expected outputs for a vector's inputs."""
    url, token = ekstoken.make_token(
        v["accessKeyId"], v["secretAccessKey"], v["region"], v["clusterName"],
        session_token=v.get("sessionToken"), now=parse_time(v["time"]), endpoint_url=v.get("endpoint"))
    sig = ekstoken.sigv4_query_signature(url, v["secretAccessKey"], v["clusterName"], v.get("sessionToken"))
    cr, sts, signature = spec_sigv4(url, v["secretAccessKey"], v["clusterName"])
    if (cr, sts, signature) != (sig["canonicalRequest"], sig["stringToSign"], sig["signature"]):
        raise SystemExit(f"vector {v['name']}: botocore and the spec implementation disagree")
    if not url.endswith("&X-Amz-Signature=" + signature):
        raise SystemExit(f"vector {v['name']}: the URL's signature is not the recomputed one")
    return {
        "expected": {
            "url": url,
            "token": token,
            "canonicalRequest": cr,
            "stringToSign": sts,
            "signature": signature,
        }
    }


def vectors_doc():
    return {
        "_comment": (
            "Known-answer vectors for EKS tokens, as `aws eks get-token` makes them: botocore's "
            "SigV4 query presigner on STS GetCallerIdentity (GET, ExpiresIn=60, the header "
            "x-k8s-aws-id: <clusterName> signed, query: operation params then X-Amz-Algorithm, "
            "-Credential, -Date, -Expires, -SignedHeaders, [-Security-Token], -Signature last), "
            "token = 'k8s-aws-v1.' + base64url(url) without '=' padding. endpoint null = "
            "botocore's default STS endpoint for the region. time = the signing time (UTC). "
            "Generated by testbed/eks/get_token.py --write-vectors; do not edit by hand. "
            "Credentials are AWS documentation examples and the test bed's test-only keys."
        ),
        "generator": f"testbed/eks/get_token.py (botocore {botocore.__version__})",
        "vectors": [dict(inputs=v, **compute(v)) for v in VECTORS],
    }


def exec_credential(token, signed_at):
    """GetTokenCommand._run_main's output (awscli get_token.py)."""
    api = "client.authentication.k8s.io/v1beta1"
    try:
        api = json.loads(os.environ.get("KUBERNETES_EXEC_INFO", "")).get("apiVersion") or api
    except ValueError:
        pass
    expires = signed_at + datetime.timedelta(minutes=14)  # TOKEN_EXPIRATION_MINS
    return {
        "kind": "ExecCredential",
        "apiVersion": api,
        "spec": {},
        "status": {"expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": token},
    }


def main():
    p = argparse.ArgumentParser(description="EKS tokens as `aws eks get-token` makes them")
    p.add_argument("--cluster")
    p.add_argument("--identity", help="a name from testbed/eks/identities.json")
    p.add_argument("--identities", default=os.path.join(HERE, "identities.json"))
    p.add_argument("--access-key-id")
    p.add_argument("--secret-access-key")
    p.add_argument("--session-token")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--endpoint")
    p.add_argument("--time", help="signing time, e.g. 2026-01-02T03:04:05Z (default: now)")
    p.add_argument("--ago", type=int, help="sign this many seconds in the past")
    p.add_argument("--token-only", action="store_true")
    p.add_argument("--exec-credential", action="store_true")
    p.add_argument("--write-vectors", metavar="FILE")
    p.add_argument("--check-vectors", metavar="FILE")
    a = p.parse_args()
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]

    if a.write_vectors or a.check_vectors:
        text = json.dumps(vectors_doc(), indent=2) + "\n"
        if a.write_vectors:
            with open(a.write_vectors, "w", encoding="utf-8") as f:
                f.write(text)
            return 0
        with open(a.check_vectors, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{a.check_vectors} differs from what get_token.py generates now", file=sys.stderr)
                return 1
        print(f"{a.check_vectors}: {len(VECTORS)} vectors reproduced", file=sys.stderr)
        return 0

    if not a.cluster:
        p.error("--cluster is required")
    ak, secret, session = a.access_key_id, a.secret_access_key, a.session_token
    if a.identity:
        with open(a.identities, encoding="utf-8") as f:
            ident = next((i for i in json.load(f)["identities"] if i["name"] == a.identity), None)
        if ident is None:
            p.error(f"no identity {a.identity!r} in {a.identities}")
        ak, secret, session = ident["accessKeyId"], ident["secretAccessKey"], ident.get("sessionToken")
    if not (ak and secret):
        p.error("--identity or --access-key-id and --secret-access-key are required")
    now = parse_time(a.time) if a.time else ekstoken.utcnow().replace(microsecond=0)
    if a.ago:
        now -= datetime.timedelta(seconds=a.ago)
    url, token = ekstoken.make_token(ak, secret, a.region, a.cluster, session_token=session,
                                     now=now, endpoint_url=a.endpoint)
    if a.token_only:
        print(token)
    elif a.exec_credential:
        print(json.dumps(exec_credential(token, now)))
    else:
        print(json.dumps({"url": url, "token": token}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

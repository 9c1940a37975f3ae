"""End-to-end checks of the EKS and ECR stand-ins (scripts/testbed verify; `up` after a start).

EKS tokens on the test bed's kube-apiserver: a fresh token is accepted (GET /api 200, `kubectl
auth whoami` shows the mapped user; a kubeconfig `exec` user runs get-token as `aws eks
update-kubeconfig` would set it up); tokens for another cluster, expired, with a wrong secret,
an unknown key, another STS host, or tampered are refused (401, each for its own reason in the
webhook's log); client certificates still work. moto: a cluster created with the
nexus-testbed/* tags reports the test bed's endpoint, CA and issuer, and DescribeCluster's answer
is enough to reach the API server; an untagged cluster is unchanged. ECR: the credentials of
moto's GetAuthorizationToken log in to the registry stand-in (curl and docker login; a wrong
password is refused), which serves the OCI distribution API with cross-repository mounts, OCI
indexes and Docker manifest lists, and HTTPS with --tls.

One line per check on stderr; exit 1 at the first failure. Leaves nothing behind (its moto
clusters and containers are deleted; moto is not reset).
"""

import argparse
import base64
import contextlib
import datetime
import hashlib
import io
import json
import os
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config

import ekstoken

HERE = os.path.dirname(os.path.abspath(__file__))
A = None  # parsed arguments
SFX = uuid.uuid4().hex[:8]
CLEANUP = []


def log(msg):
    print(f"verify-eks: {msg}", file=sys.stderr, flush=True)


def check(name):
    """`with check("..."):` logs the check's outcome and time."""
    @contextlib.contextmanager
    def cm():
        t0 = time.monotonic()
        try:
            yield
        except Exception as e:
            log(f"{name}: FAILED: {type(e).__name__}: {e}")
            raise
        log(f"{name}: OK ({time.monotonic() - t0:.2f}s)")
    return cm()


def run(*cmd, env=None, ok=True, input=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, input=input, timeout=120)
    if ok and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
    return r


def identities():
    with open(A.identities, encoding="utf-8") as f:
        return {i["name"]: i for i in json.load(f)["identities"]}


def token(ident, cluster=None, ago=0, secret=None, endpoint=None):
    now = ekstoken.utcnow().replace(microsecond=0) - datetime.timedelta(seconds=ago)
    return ekstoken.make_token(
        ident["accessKeyId"], secret or ident["secretAccessKey"], A.region, cluster or A.cluster,
        session_token=ident.get("sessionToken"), now=now,
        endpoint_url=endpoint or A.sts_endpoint)[1]


def api_status(tok, server=None, cafile=None):
    ctx = ssl.create_default_context(cafile=cafile or A.ca)
    req = urllib.request.Request(f"{server or A.kube_server}/api", headers={"Authorization": f"Bearer {tok}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def kubeconfig(path, user):
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "eks", "cluster": {
            "server": A.kube_server,
            "certificate-authority-data": base64.b64encode(open(A.ca, "rb").read()).decode()}}],
        "users": [{"name": "eks", "user": user}],
        "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "eks"}}],
        "current-context": "eks",
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    return path


def kubectl(cfg, *args, ok=True):
    return run(A.kubectl, "--kubeconfig", cfg, *args, ok=ok)


def whoami(cfg):
    return json.loads(kubectl(cfg, "auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]


def webhook_log_tail(since=None):
    """The webhook's log from byte offset SINCE (default: its last 4000 bytes)."""
    try:
        with open(A.webhook_log, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return (data[since:] if since is not None else data[-4000:]).decode("utf-8", "replace")


def webhook_log_size():
    try:
        return os.path.getsize(A.webhook_log)
    except (OSError, TypeError):
        return 0


def aws(service, access_key="testing", secret="testing"):
    return boto3.client(
        service, endpoint_url=A.sts_endpoint, region_name=A.region,
        aws_access_key_id=access_key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}))


# ---------------------------------------------------------------- EKS tokens
def eks_tokens(tmp):
    ids = identities()
    admin, viewer = ids["admin"], ids["viewer"]
    with check("exported test credentials are identities.json's admin"):
        assert (A.access_key_id, A.secret_access_key) == (admin["accessKeyId"], admin["secretAccessKey"])

    with check("admin token (now) -> GET /api 200"):
        code = api_status(token(admin))
        assert code == 200, f"HTTP {code}; webhook log:\n{webhook_log_tail()}"

    with check("kubectl auth whoami with the token shows the mapped user"):
        u = whoami(kubeconfig(f"{tmp}/token.kubeconfig", {"token": token(admin)}))
        assert u["username"] == admin["arn"], u
        assert "nexus-dev:eks-admins" in u["groups"] and "system:authenticated" in u["groups"], u
        assert u["uid"] == f"aws-iam-authenticator:123456789012:{admin['userId']}", u
        assert u["extra"]["accessKeyId"] == [admin["accessKeyId"]], u

    with check("kubeconfig exec user (get-token, as aws eks update-kubeconfig sets up): cluster-admin"):
        cfg = kubeconfig(f"{tmp}/exec.kubeconfig", {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": A.get_token,
            "args": ["--cluster", A.cluster, "--region", A.region, "--identity", "admin",
                     "--endpoint", A.sts_endpoint, "--exec-credential"],
            "interactiveMode": "Never"}})
        assert kubectl(cfg, "auth", "can-i", "create", "namespaces").stdout.strip() == "yes"
        kubectl(cfg, "get", "namespace", "default", "-o", "name")

    with check("viewer (assumed role, session token): ARN kept, group eks-viewers, read-only"):
        cfg = kubeconfig(f"{tmp}/viewer.kubeconfig", {"token": token(viewer)})
        u = whoami(cfg)
        assert u["username"] == viewer["arn"], u
        assert "nexus-dev:eks-viewers" in u["groups"], u
        assert u["extra"]["canonicalArn"] == ["arn:aws:iam::123456789012:role/nexus-testbed-eks-viewer"], u
        assert kubectl(cfg, "auth", "can-i", "list", "pods", "-A").stdout.strip() == "yes"
        assert kubectl(cfg, "auth", "can-i", "create", "namespaces", ok=False).stdout.strip() == "no"

    bad = [
        ("token for another cluster name", token(admin, cluster="another-cluster"), "SignatureDoesNotMatch"),
        ("token signed 20 minutes ago", token(admin, ago=20 * 60), "expired"),
        ("token signed with a wrong secret", token(admin, secret="x" * 40), "SignatureDoesNotMatch"),
        ("token of an unknown access key", token({"accessKeyId": "AKIANEXUSUNKNOWN0009", "secretAccessKey": "y" * 40}),
         "unknown access key"),
        ("token for AWS's STS host", token(admin, endpoint="https://sts.us-east-1.amazonaws.com"),
         "unexpected scheme"),
        ("tampered token (Action changed)", ekstoken.token_from_url(
            ekstoken.decode_token(token(admin)).replace("GetCallerIdentity", "GetSessionToken")), "unexpected action"),
        ("not an EKS token", "k8s-aws-v1.!!!", "illegal base64"),
    ]
    for name, tok, reason in bad:
        with check(f"{name} -> 401 ({reason})"):
            since = webhook_log_size()
            code = api_status(tok)
            assert code == 401, f"HTTP {code}"
            if A.webhook_log:
                new = webhook_log_tail(since)
                assert reason in new, f"the webhook's log has no {reason!r} for this token:\n{new}"

    with check("the admin client certificate still works"):
        u = json.loads(run(A.kubectl, "--kubeconfig", A.kubeconfig, "auth", "whoami", "-o", "json").stdout)
        assert u["status"]["userInfo"]["username"] == "nexus-testbed-admin", u


# ---------------------------------------------------------------- moto EKS
def moto_eks(tmp):
    eks = aws("eks")
    ca_data = base64.b64encode(open(A.ca, "rb").read()).decode()
    tagged, plain = f"nexus-testbed-verify-{SFX}", f"nexus-testbed-verify-plain-{SFX}"
    role = "arn:aws:iam::123456789012:role/nexus-testbed-verify"
    with check("moto: a cluster with nexus-testbed/* tags reports the test bed's endpoint, CA, issuer"):
        eks.create_cluster(name=tagged, roleArn=role, resourcesVpcConfig={}, tags={
            "nexus-testbed/endpoint": A.kube_server, "nexus-testbed/ca": ca_data,
            "nexus-testbed/oidc-issuer": A.sa_issuer})
        CLEANUP.append(lambda: eks.delete_cluster(name=tagged))
        c = eks.describe_cluster(name=tagged)["cluster"]
        assert c["status"] == "ACTIVE", c["status"]
        assert c["endpoint"] == A.kube_server, c["endpoint"]
        assert c["certificateAuthority"]["data"] == ca_data
        assert c["identity"]["oidc"]["issuer"] == A.sa_issuer, c["identity"]

    with check("moto: DescribeCluster's endpoint + CA and a token reach the API server"):
        cafile = f"{tmp}/described-ca.pem"
        with open(cafile, "wb") as f:
            f.write(base64.b64decode(c["certificateAuthority"]["data"]))
        code = api_status(token(identities()["admin"]), server=c["endpoint"], cafile=cafile)
        assert code == 200, f"HTTP {code}"

    with check("moto: an untagged cluster keeps moto's invented endpoint and CA"):
        eks.create_cluster(name=plain, roleArn=role, resourcesVpcConfig={})
        CLEANUP.append(lambda: eks.delete_cluster(name=plain))
        c = eks.describe_cluster(name=plain)["cluster"]
        assert c["endpoint"].endswith(".eks.amazonaws.com/") and c["status"] == "ACTIVE", c["endpoint"]

    with check("moto: STS GetCallerIdentity of the test key answers its identity"):
        admin = identities()["admin"]
        arn = aws("sts", admin["accessKeyId"], admin["secretAccessKey"]).get_caller_identity()["Arn"]
        assert arn == admin["arn"], arn
        assert aws("sts").get_caller_identity()["Arn"] == "arn:aws:sts::123456789012:user/moto"


# ---------------------------------------------------------------- ECR
class Registry:
    def __init__(self, base, user, password, cafile=None):
        self.base, self.auth = base, "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.ctx = ssl.create_default_context(cafile=cafile) if cafile else None

    def req(self, method, path, body=None, headers=None, auth=True):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = self.auth
        r = urllib.request.Request(self.base + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, context=self.ctx, timeout=20) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        code, h, body = self.req("POST", f"/v2/{repo}/blobs/uploads/")
        assert code == 202, (code, body)
        loc = h["Location"]
        loc = loc if loc.startswith("http") else self.base + loc
        sep = "&" if "?" in loc else "?"
        code, _, body = self.req("PUT", loc[len(self.base):] + f"{sep}digest={digest}", data,
                                 {"Content-Type": "application/octet-stream"})
        assert code == 201, (code, body)
        return {"digest": digest, "size": len(data)}

    def put_manifest(self, repo, ref, doc, media_type):
        data = json.dumps(doc).encode()
        code, h, body = self.req("PUT", f"/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type})
        assert code == 201, (code, body)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        assert h["Docker-Content-Digest"] == digest, h["Docker-Content-Digest"]
        return {"mediaType": media_type, "digest": digest, "size": len(data)}


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def ecr_registry(tmp):
    with check("moto: ECR GetAuthorizationToken -> AWS / 123456789012-auth-token"):
        data = aws("ecr").get_authorization_token()["authorizationData"][0]
        user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        assert (user, password) == ("AWS", "123456789012-auth-token"), (user, password)

    name = f"nexus-testbed-verify-ecr-{SFX}"
    CLEANUP.append(lambda: run(A.ecr_registry, "stop", name, ok=False))
    with check("ECR stand-in starts (ecr-registry start)"):
        out = run(A.ecr_registry, "start", name, env=dict(os.environ, NEXUS_TESTBED_ECR_REGISTRY_IMAGE=A.ecr_image,
                                                          NEXUS_TESTBED_ECR_TLS_DIR=A.ecr_tls_dir)).stdout
        info = dict(line.split("=", 1) for line in out.split())
        reg = Registry(info["ECR_URL"], user, password)

    with check("ECR stand-in: /v2/ without credentials 401 Basic, with moto's 200, wrong password 401"):
        code, h, _ = reg.req("GET", "/v2/", auth=False)
        assert code == 401 and h["WWW-Authenticate"].startswith("Basic "), (code, h["WWW-Authenticate"])
        assert reg.req("GET", "/v2/")[0] == 200
        assert Registry(info["ECR_URL"], user, password + "x").req("GET", "/v2/")[0] == 401
        assert Registry(info["ECR_URL"], "notaws", password).req("GET", "/v2/")[0] == 401

    with check("ECR stand-in: blobs, cross-repository mount (201), OCI manifest + index, Docker list"):
        a, b = "verify/source", "verify/target"
        cfg = reg.blob(a, b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
        layer = reg.blob(a, b"layer-" + SFX.encode())
        code, h, body = reg.req("POST", f"/v2/{b}/blobs/uploads/?mount={layer['digest']}&from={a}")
        assert code == 201, (code, body)
        assert h["Docker-Content-Digest"] == layer["digest"] and h["Location"], dict(h)
        assert reg.req("HEAD", f"/v2/{b}/blobs/{layer['digest']}")[0] == 200
        code, _, _ = reg.req("POST", f"/v2/{b}/blobs/uploads/?mount=sha256:{'0' * 64}&from={a}")
        assert code == 202, f"mount of a missing blob: {code} (want 202, an upload session)"
        cfg_d = dict(cfg, mediaType="application/vnd.oci.image.config.v1+json")
        layer_d = dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar")
        m = reg.put_manifest(a, "oci", {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg_d,
                                        "layers": [layer_d]}, OCI_MANIFEST)
        plat = {"architecture": "amd64", "os": "linux"}
        idx = reg.put_manifest(a, "oci-index", {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                "manifests": [dict(m, platform=plat)]}, OCI_INDEX)
        code, h, body = reg.req("GET", f"/v2/{a}/manifests/oci-index", headers={"Accept": OCI_INDEX})
        assert code == 200 and h["Content-Type"] == OCI_INDEX, (code, h["Content-Type"])
        assert "sha256:" + hashlib.sha256(body).hexdigest() == idx["digest"]
        dm = reg.put_manifest(a, "docker", {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                                            "config": dict(cfg, mediaType="application/vnd.docker.container.image.v1+json"),
                                            "layers": [dict(layer, mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip")]},
                              DOCKER_MANIFEST)
        reg.put_manifest(a, "docker-list", {"schemaVersion": 2, "mediaType": DOCKER_LIST,
                                            "manifests": [dict(dm, platform=plat)]}, DOCKER_LIST)
        code, h, _ = reg.req("GET", f"/v2/{a}/manifests/docker-list", headers={"Accept": DOCKER_LIST})
        assert code == 200 and h["Content-Type"] == DOCKER_LIST, (code, h["Content-Type"])
        # the index by digest, copied to the other repository (what promote does: by digest)
        code, _, _ = reg.req("GET", f"/v2/{a}/manifests/{m['digest']}", headers={"Accept": OCI_MANIFEST})
        assert code == 200
        reg.blob(b, b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}')
        m2 = reg.put_manifest(b, m["digest"], {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg_d,
                                                "layers": [layer_d]}, OCI_MANIFEST)
        assert m2["digest"] == m["digest"]

    with check("docker login with moto's credentials, push; wrong password refused"):
        env = dict(os.environ, DOCKER_CONFIG=f"{tmp}/docker")
        host = info["ECR_REGISTRY"]
        r = run("docker", "login", "-u", user, "--password-stdin", host, env=env, input=password + "x", ok=False)
        assert r.returncode != 0, "docker login with a wrong password succeeded"
        run("docker", "login", "-u", user, "--password-stdin", host, env=env, input=password)
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as t:
            data = f"nexus-testbed {SFX}\n".encode()
            ti = tarfile.TarInfo("hello.txt")
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        tag = f"{host}/verify/pushed:{SFX}"
        p = subprocess.run(["docker", "import", "-", tag], input=tar.getvalue(), capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        CLEANUP.append(lambda: run("docker", "rmi", "-f", tag, ok=False))
        run("docker", "push", tag, env=env)
        run("docker", "logout", host, env=env, ok=False)

    tname = f"{name}-tls"
    CLEANUP.append(lambda: run(A.ecr_registry, "stop", tname, ok=False))
    with check("ECR stand-in with --tls: HTTPS with the test bed CA, same credentials"):
        out = run(A.ecr_registry, "start", tname, "--tls", env=dict(
            os.environ, NEXUS_TESTBED_ECR_REGISTRY_IMAGE=A.ecr_image, NEXUS_TESTBED_ECR_TLS_DIR=A.ecr_tls_dir)).stdout
        tinfo = dict(line.split("=", 1) for line in out.split())
        assert tinfo["ECR_URL"].startswith("https://"), tinfo
        assert Registry(tinfo["ECR_URL"], user, password, cafile=A.ca).req("GET", "/v2/")[0] == 200
        assert Registry(tinfo["ECR_URL"], user, "wrong", cafile=A.ca).req("GET", "/v2/")[0] == 401


def main():
    global A
    p = argparse.ArgumentParser()
    for opt in ["cluster", "region", "kube-server", "ca", "kubeconfig", "kubectl", "sts-endpoint",
                "sa-issuer", "get-token", "access-key-id", "secret-access-key", "ecr-registry",
                "ecr-image", "ecr-tls-dir"]:
        p.add_argument(f"--{opt}", required=True)
    p.add_argument("--identities", default=os.path.join(HERE, "identities.json"))
    p.add_argument("--webhook-log")
    p.add_argument("--only", choices=["eks", "moto", "ecr"])
    A = p.parse_args()
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="nexus-testbed-verify-eks-") as tmp:
            if A.only in (None, "eks"):
                eks_tokens(tmp)
            if A.only in (None, "moto"):
                moto_eks(tmp)
            if A.only in (None, "ecr"):
                ecr_registry(tmp)
    except Exception:
        return 1
    finally:
        for fn in reversed(CLEANUP):
            try:
                fn()
            except Exception as e:  # keep cleaning
                log(f"cleanup: {type(e).__name__}: {e}")
    log(f"all checks passed ({time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

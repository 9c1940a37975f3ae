"""The test bed's moto server: moto's own `moto_server`, plus three small patches for the EKS/ECR
stand-ins (docs/design/testbed.md, "EKS and ECR stand-ins"). Started by scripts/testbed instead
of `moto_server`, on the same port with the same flags:

    python server.py [--testbed-identities FILE] [--testbed-rev REV] -H 127.0.0.1 -p 25055

1. EKS: a cluster carrying the tags `nexus-testbed/endpoint`, `nexus-testbed/ca` (base64 of a
   PEM, exactly like `certificateAuthority.data`) and optionally `nexus-testbed/oidc-issuer`
   reports those values in CreateCluster/DescribeCluster/ListClusters-then-Describe answers
   (status ACTIVE) instead of moto's invented endpoint and CA. Tags added later by TagResource
   count too. Clusters without these tags are untouched.
2. STS, presigned GetCallerIdentity (what an EKS token is): a GET whose query carries a SigV4
   `X-Amz-Credential` with service `sts` and no Authorization header is routed to STS (moto
   routes it to S3 otherwise), and STS takes the access key from that credential (moto would use
   "AKIAEXAMPLE"). Signatures are not checked here (moto never does); the test bed's token
   webhook checks them.
3. STS, fixed identities: GetCallerIdentity for an access key listed in FILE (the test bed's
   test-only EKS credentials, testbed/eks/identities.json) answers that identity's Arn, UserId
   and Account, as real STS answers for the key's owner. Other keys behave as before.

`--testbed-rev` is ignored; scripts/testbed passes a hash of this file and FILE so that an edit
restarts the server.
"""

import argparse
import json
import sys
from urllib.parse import parse_qs

from moto.eks import models as eks_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import main as moto_main
from moto.sts import models as sts_models
from moto.sts import responses as sts_responses

TAG_ENDPOINT = "nexus-testbed/endpoint"
TAG_CA = "nexus-testbed/ca"
TAG_ISSUER = "nexus-testbed/oidc-issuer"

IDENTITIES = {}  # access key id -> {"arn", "userId", "account"}


# ---- 1. EKS: endpoint, CA and issuer from the cluster's tags ----
def _apply_testbed_tags(cluster):
    tags = cluster.tags or {}
    if TAG_ENDPOINT in tags:
        cluster.endpoint = tags[TAG_ENDPOINT]
        cluster.status = eks_models.ACTIVE_STATUS
    if TAG_CA in tags:
        cluster.certificate_authority = {"data": tags[TAG_CA]}
    if TAG_ISSUER in tags:
        cluster.identity = {"oidc": {"issuer": tags[TAG_ISSUER]}}
    return cluster


_create_cluster = eks_models.EKSBackend.create_cluster
_describe_cluster = eks_models.EKSBackend.describe_cluster


def create_cluster(self, *args, **kwargs):
    return _apply_testbed_tags(_create_cluster(self, *args, **kwargs))


def describe_cluster(self, *args, **kwargs):
    return _apply_testbed_tags(_describe_cluster(self, *args, **kwargs))


eks_models.EKSBackend.create_cluster = create_cluster
eks_models.EKSBackend.describe_cluster = describe_cluster


# ---- 2. STS: presigned GetCallerIdentity is routed to STS, with its access key ----
def _query_sts_credential(query_string):
    """The X-Amz-Credential of a SigV4 query with service sts, split in 5 parts, or None."""
    cred = parse_qs(query_string or "").get("X-Amz-Credential")
    if not cred:
        return None
    parts = cred[0].split("/")
    if len(parts) != 5 or parts[3] != "sts" or parts[4] != "aws4_request":
        return None
    return parts


_infer = DomainDispatcherApplication.infer_service_region_host


def infer_service_region_host(self, environ, path):
    if not environ.get("HTTP_AUTHORIZATION"):
        parts = _query_sts_credential(environ.get("QUERY_STRING"))
        if parts:
            return f"sts.{parts[2]}.amazonaws.com"
    return _infer(self, environ, path)


DomainDispatcherApplication.infer_service_region_host = infer_service_region_host

_get_access_key = sts_responses.TokenResponse.get_access_key


def get_access_key(self):
    if "Authorization" not in self.headers:
        cred = self.querystring.get("X-Amz-Credential")
        parts = cred[0].split("/") if cred else []
        if len(parts) == 5 and parts[3] == "sts":
            return parts[0]
    return _get_access_key(self)


sts_responses.TokenResponse.get_access_key = get_access_key


# ---- 3. STS: the test bed's fixed identities ----
_get_caller_identity = sts_models.STSBackend.get_caller_identity


def get_caller_identity(self, access_key_id, region):
    ident = IDENTITIES.get(access_key_id)
    if ident:
        return ident["userId"], ident["arn"], ident["account"]
    return _get_caller_identity(self, access_key_id, region)


sts_models.STSBackend.get_caller_identity = get_caller_identity


def load_identities(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    for ident in doc["identities"]:
        IDENTITIES[ident["accessKeyId"]] = {
            "arn": ident["arn"],
            "userId": ident["userId"],
            "account": ident["arn"].split(":")[4],
        }


def main():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--testbed-identities")
    p.add_argument("--testbed-rev")
    ours, rest = p.parse_known_args(sys.argv[1:])
    if ours.testbed_identities:
        load_identities(ours.testbed_identities)
    moto_main(rest)


if __name__ == "__main__":
    main()

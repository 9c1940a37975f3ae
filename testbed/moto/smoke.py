"""Smoke test for the moto server used by the test bed.

Usage: python smoke.py http://127.0.0.1:25055
Touches every AWS service the project uses, then resets the emulator.
"""

import sys
import urllib.request
import uuid

import boto3
from botocore.config import Config

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:25055"
kw = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)
c = lambda svc: boto3.client(svc, **kw)  # noqa: E731
sfx = uuid.uuid4().hex[:8]
checks = []


def check(name, fn):
    try:
        fn()
        checks.append((name, None))
    except Exception as e:  # report every service, not just the first failure
        checks.append((name, e))


def s3():
    b = f"smoke-{sfx}"
    c("s3").create_bucket(Bucket=b)
    c("s3").put_object(Bucket=b, Key="k", Body=b"v")
    assert c("s3").get_object(Bucket=b, Key="k")["Body"].read() == b"v"


def dynamodb():
    d = c("dynamodb")
    d.create_table(
        TableName=f"smoke-{sfx}",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert d.describe_table(TableName=f"smoke-{sfx}")["Table"]["TableStatus"] == "ACTIVE"


def glue():
    g = c("glue")
    g.create_database(DatabaseInput={"Name": f"smoke_{sfx}"})
    g.create_table(
        DatabaseName=f"smoke_{sfx}",
        TableInput={
            "Name": "t",
            "StorageDescriptor": {"Location": "s3://x/y"},
            "Parameters": {"table_type": "ICEBERG"},
        },
    )
    assert g.get_table(DatabaseName=f"smoke_{sfx}", Name="t")["Table"]["Parameters"]["table_type"] == "ICEBERG"


def ssm():
    s = c("ssm")
    s.put_parameter(Name=f"/smoke/{sfx}", Value="v", Type="SecureString")
    assert s.get_parameter(Name=f"/smoke/{sfx}", WithDecryption=True)["Parameter"]["Value"] == "v"


def secretsmanager():
    s = c("secretsmanager")
    s.create_secret(Name=f"smoke-{sfx}", SecretString="v")
    assert s.get_secret_value(SecretId=f"smoke-{sfx}")["SecretString"] == "v"


def iam():
    i = c("iam")
    i.create_role(RoleName=f"smoke-{sfx}", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}')
    assert i.get_role(RoleName=f"smoke-{sfx}")["Role"]["RoleName"] == f"smoke-{sfx}"


def cognito():
    ci = c("cognito-idp")
    pool = ci.create_user_pool(PoolName=f"smoke-{sfx}")["UserPool"]["Id"]
    ci.create_user_pool_client(UserPoolId=pool, ClientName="c")
    with urllib.request.urlopen(f"{endpoint}/{pool}/.well-known/jwks.json", timeout=10) as r:
        assert r.status == 200


def sts():
    assert c("sts").get_caller_identity()["Account"] == "123456789012"


def ecr():
    e = c("ecr")
    e.create_repository(repositoryName=f"smoke-{sfx}")
    assert e.get_authorization_token()["authorizationData"]


def eks():
    e = c("eks")
    e.create_cluster(name=f"smoke-{sfx}", roleArn="arn:aws:iam::123456789012:role/x", resourcesVpcConfig={})
    cl = e.describe_cluster(name=f"smoke-{sfx}")["cluster"]
    assert cl["status"] == "ACTIVE" and cl["identity"]["oidc"]["issuer"]


for name, fn in [
    ("s3", s3), ("dynamodb", dynamodb), ("glue", glue), ("ssm", ssm),
    ("secretsmanager", secretsmanager), ("iam", iam), ("cognito-idp", cognito),
    ("sts", sts), ("ecr", ecr), ("eks", eks),
]:
    check(name, fn)

req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
urllib.request.urlopen(req, timeout=10).close()

failed = [(n, e) for n, e in checks if e is not None]
for n, e in failed:
    print(f"moto smoke: {n}: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
if failed:
    sys.exit(1)
print(f"moto smoke: {len(checks)} services OK", file=sys.stderr)

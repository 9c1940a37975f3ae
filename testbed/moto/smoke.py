"""Smoke test for the test bed's AWS emulators (moto, MiniStack).

Usage: python smoke.py [ENDPOINT] [moto|ministack]
       (defaults: http://127.0.0.1:25055 moto)
Touches every AWS service the project uses, prints one line per service (OK or FAILED, with
the error), then resets the emulator (moto: POST /moto-api/reset; MiniStack:
POST /_ministack/reset). Exit 1 if any service failed.
"""

import sys
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config

endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:25055"
emulator = sys.argv[2] if len(sys.argv) > 2 else "moto"
ACCOUNT, RESET = {
    "moto": ("123456789012", "/moto-api/reset"),
    "ministack": ("000000000000", "/_ministack/reset"),
}[emulator]
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
    t0 = time.monotonic()
    try:
        fn()
        checks.append((name, None, time.monotonic() - t0))
    except Exception as e:  # report every service, not just the first failure
        checks.append((name, e, time.monotonic() - t0))


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
    d.put_item(TableName=f"smoke-{sfx}", Item={"pk": {"S": "a"}})
    assert d.get_item(TableName=f"smoke-{sfx}", Key={"pk": {"S": "a"}})["Item"]["pk"]["S"] == "a"


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
    i.put_role_policy(RoleName=f"smoke-{sfx}", PolicyName="p", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'))
    assert i.list_role_policies(RoleName=f"smoke-{sfx}")["PolicyNames"] == ["p"]


def iam_oidc():
    i = c("iam")
    arn = i.create_open_id_connect_provider(
        Url=f"https://oidc.{sfx}.example.com", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )["OpenIDConnectProviderArn"]
    assert i.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["sts.amazonaws.com"]
    assert arn in [p["Arn"] for p in i.list_open_id_connect_providers()["OpenIDConnectProviderList"]]


def cognito():
    ci = c("cognito-idp")
    pool = ci.create_user_pool(PoolName=f"smoke-{sfx}")["UserPool"]["Id"]
    ci.create_user_pool_client(UserPoolId=pool, ClientName="c")
    ci.create_user_pool_domain(UserPoolId=pool, Domain=f"smoke-{sfx}")
    assert ci.describe_user_pool_domain(Domain=f"smoke-{sfx}")["DomainDescription"]["UserPoolId"] == pool
    ci.create_group(UserPoolId=pool, GroupName="admins")
    assert ci.get_group(UserPoolId=pool, GroupName="admins")["Group"]["GroupName"] == "admins"
    with urllib.request.urlopen(f"{endpoint}/{pool}/.well-known/jwks.json", timeout=10) as r:
        assert r.status == 200


def sts():
    assert c("sts").get_caller_identity()["Account"] == ACCOUNT


def ecr():
    e = c("ecr")
    e.create_repository(repositoryName=f"smoke-{sfx}")
    assert e.get_authorization_token()["authorizationData"]


def eks():
    e = c("eks")
    e.create_cluster(name=f"smoke-{sfx}", roleArn=f"arn:aws:iam::{ACCOUNT}:role/x", resourcesVpcConfig={})
    cl = e.describe_cluster(name=f"smoke-{sfx}")["cluster"]
    assert cl["status"] == "ACTIVE", f"status {cl['status']}"
    assert cl["identity"]["oidc"]["issuer"]


for name, fn in [
    ("s3", s3), ("dynamodb", dynamodb), ("glue", glue), ("ssm", ssm),
    ("secretsmanager", secretsmanager), ("iam", iam), ("iam-oidc-provider", iam_oidc),
    ("cognito-idp", cognito), ("sts", sts), ("ecr", ecr), ("eks", eks),
]:
    check(name, fn)

req = urllib.request.Request(f"{endpoint}{RESET}", method="POST")
urllib.request.urlopen(req, timeout=10).close()

failed = [n for n, e, _ in checks if e is not None]
for n, e, secs in checks:
    status = "OK" if e is None else f"FAILED: {type(e).__name__}: {e}"
    print(f"{emulator} smoke: {n}: {status} ({secs:.2f}s)", file=sys.stderr)
if failed:
    sys.exit(1)
print(f"{emulator} smoke: {len(checks)} services OK", file=sys.stderr)

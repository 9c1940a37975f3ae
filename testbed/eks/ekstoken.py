"""EKS bearer tokens (`k8s-aws-v1.` + base64url of a presigned STS GetCallerIdentity URL).

make_token(): the token exactly as `aws eks get-token` makes it (awscli
customizations/eks/get_token.py: botocore's presigner, the `x-k8s-aws-id` header signed,
ExpiresIn=60, GET, base64url without padding).

check_token(): the checks of aws-iam-authenticator's tokenVerifier.Verify (pkg/token/token.go),
with the test bed's STS endpoint in place of sts.<region>.amazonaws.com, followed by the checks
real STS makes and moto does not: the SigV4 query signature, recomputed with botocore from the
secret key of the access key in the credential scope and the header `x-k8s-aws-id: <cluster>`.

Used by token.py (CLI, known-answer vectors), webhook.py (the apiserver's token webhook) and
verify.py. Test-only: the secret keys come from testbed/eks/identities.json.
"""

import base64
import binascii
import datetime
import hmac
import re
from unittest import mock
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TOKEN_PREFIX = "k8s-aws-v1."  # token.go v1Prefix, get_token.py TOKEN_PREFIX
K8S_AWS_ID_HEADER = "x-k8s-aws-id"  # token.go clusterIDHeader
URL_TIMEOUT = 60  # get_token.py URL_TIMEOUT (ExpiresIn); token.go requestPresignParam
PRESIGNED_URL_EXPIRATION = datetime.timedelta(minutes=15)  # token.go presignedURLExpiration
MAX_TOKEN_LEN = 4096  # token.go maxTokenLenBytes
DATE_FORMAT = "%Y%m%dT%H%M%SZ"  # token.go dateHeaderFormat
# token.go parameterWhitelist
PARAMETER_WHITELIST = {
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
    "x-amz-expires", "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
}
# STS-side, not in token.go: a request signed this far in the future is "not yet current".
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)


class TokenError(Exception):
    """The token is refused; the message says why."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# ---- generating (aws eks get-token) ----
def presigned_url(access_key_id, secret_access_key, region, cluster, session_token=None,
                  now=None, endpoint_url=None):
    """The presigned GetCallerIdentity URL `aws eks get-token --cluster-name CLUSTER` signs.

    now: a naive UTC datetime to sign at (default: the current time). endpoint_url: the STS
    endpoint (default: botocore's for the region, https://sts.REGION.amazonaws.com).
    """
    session = botocore.session.Session()
    sts = session.create_client(
        "sts",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
    )

    # STSClientFactory._register_k8s_aws_id_handlers, verbatim in effect
    def retrieve_k8s_aws_id(params, context, **kwargs):
        if K8S_AWS_ID_HEADER in params:
            context[K8S_AWS_ID_HEADER] = params.pop(K8S_AWS_ID_HEADER)

    def inject_k8s_aws_id_header(request, **kwargs):
        if K8S_AWS_ID_HEADER in request.context:
            request.headers[K8S_AWS_ID_HEADER] = request.context[K8S_AWS_ID_HEADER]

    sts.meta.events.register("provide-client-params.sts.GetCallerIdentity", retrieve_k8s_aws_id)
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", inject_k8s_aws_id_header)

    def presign():
        return sts.generate_presigned_url(
            "get_caller_identity",
            Params={K8S_AWS_ID_HEADER: cluster},
            ExpiresIn=URL_TIMEOUT,
            HttpMethod="GET",
        )

    if now is None:
        return presign()
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
        return presign()


def token_from_url(url):
    """TokenGenerator.get_token: prefix + urlsafe base64 without '=' padding."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("utf-8").rstrip("=")


def make_token(*args, **kwargs):
    url = presigned_url(*args, **kwargs)
    return url, token_from_url(url)


# ---- checking ----
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def decode_token(token):
    """Go's base64.RawURLEncoding.DecodeString: URL alphabet, no padding."""
    if len(token) > MAX_TOKEN_LEN:
        raise TokenError("token is too large")
    if not token.startswith(TOKEN_PREFIX):
        raise TokenError(f"token is missing expected {TOKEN_PREFIX!r} prefix")
    body = token[len(TOKEN_PREFIX):]
    if not _B64URL.match(body) or len(body) % 4 == 1:
        raise TokenError("illegal base64 data in token")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as e:
        raise TokenError(f"illegal base64 data in token: {e}") from None


def sigv4_query_signature(url, secret_access_key, cluster, session_token=None):
    """Recompute the SigV4 query signature of a presigned GET URL, as STS would: with the
    headers `host` (from the URL) and `x-k8s-aws-id: CLUSTER`. Returns the canonical request,
    the string to sign and the signature (hex)."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    q = dict(pairs)
    scope = q["X-Amz-Credential"].split("/")
    access_key_id, _date, region, service, _term = scope
    request = AWSRequest(
        method="GET",
        url=urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
        headers={K8S_AWS_ID_HEADER: cluster},
        params=[(k, v) for k, v in pairs if k != "X-Amz-Signature"],
    )
    request.context["timestamp"] = q["X-Amz-Date"]
    signer = botocore.auth.SigV4QueryAuth(
        Credentials(access_key_id, secret_access_key, session_token), service, region,
        expires=int(q["X-Amz-Expires"]),
    )
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    return {
        "canonicalRequest": canonical_request,
        "stringToSign": string_to_sign,
        "signature": signer.signature(string_to_sign, request),
        "signedHeaders": signer.signed_headers(signer.headers_to_sign(request)),
    }


def check_token(token, cluster, sts_endpoint, identities, now=None):
    """Everything short of the STS call. Returns (url, identity entry, access key id).

    identities: {access key id: {"secretAccessKey", "sessionToken"?, ...}}.
    Raises TokenError with aws-iam-authenticator's (or STS's) reason.
    """
    now = now or utcnow()
    url = decode_token(token)
    try:
        parsed = urlsplit(url)
        want = urlsplit(sts_endpoint)
    except ValueError as e:
        raise TokenError(str(e)) from None
    # token.go: scheme https, host one of STS's hostnames for the region/partition, path "/".
    # Here: the test bed's STS endpoint (moto), scheme and host:port as configured.
    if parsed.scheme != want.scheme:
        raise TokenError(f"unexpected scheme {parsed.scheme!r} in pre-signed URL")
    if parsed.netloc != want.netloc:
        raise TokenError(f"unexpected hostname {parsed.netloc!r} in pre-signed URL")
    if parsed.path != "/":
        raise TokenError("unexpected path in pre-signed URL")
    try:
        pairs = parse_qsl(parsed.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise TokenError("malformed query parameter") from None
    seen = set()
    params = {}
    for key, value in pairs:
        low = key.lower()
        if low in seen:  # validateDuplicateParameters (and "multiple values")
            raise TokenError(f"duplicate query parameter found: {key!r}")
        seen.add(low)
        if low not in PARAMETER_WHITELIST:
            raise TokenError(f"non-whitelisted query parameter {key!r}")
        params[low] = value
    if params.get("action") != "GetCallerIdentity":
        raise TokenError("unexpected action parameter in pre-signed URL")
    signed = [h.lower() for h in params.get("x-amz-signedheaders", "").split(";")]
    if K8S_AWS_ID_HEADER not in signed:
        raise TokenError(f"client did not sign the {K8S_AWS_ID_HEADER} header in the pre-signed URL")
    try:
        expires = int(params.get("x-amz-expires", ""))
    except ValueError:
        expires = -1
    if not 0 <= expires <= 900:
        raise TokenError(f"invalid X-Amz-Expires parameter in pre-signed URL: {params.get('x-amz-expires')}")
    date = params.get("x-amz-date", "")
    if not date:
        raise TokenError("X-Amz-Date parameter must be present in pre-signed URL")
    try:
        signed_at = datetime.datetime.strptime(date, DATE_FORMAT)
    except ValueError:
        raise TokenError(f"error parsing X-Amz-Date parameter {date}") from None
    if now > signed_at + PRESIGNED_URL_EXPIRATION:
        raise TokenError(f"X-Amz-Date parameter is expired (15 minute expiration) {date}")

    # ---- what STS checks (moto checks none of it) ----
    if params.get("version") != "2011-06-15":
        raise TokenError("STS: unexpected Version parameter")
    if params.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise TokenError("STS: unsupported X-Amz-Algorithm")
    if "host" not in signed:
        raise TokenError("STS: the host header is not signed")
    extra = sorted(set(signed) - {"host", K8S_AWS_ID_HEADER})
    if extra:
        raise TokenError(f"STS: signed headers {extra} are not sent by the verifier")
    scope = params.get("x-amz-credential", "").split("/")
    if len(scope) != 5 or scope[1] != date[:8] or scope[3] != "sts" or scope[4] != "aws4_request":
        raise TokenError(f"STS: malformed credential scope {params.get('x-amz-credential')!r}")
    if signed_at > now + MAX_CLOCK_SKEW:
        raise TokenError(f"STS: signature not yet current: {date}")
    access_key_id = scope[0]
    ident = identities.get(access_key_id)
    if ident is None:
        raise TokenError(f"STS: the security token included in the request is invalid (unknown access key {access_key_id})")
    if params.get("x-amz-security-token") != ident.get("sessionToken"):
        raise TokenError("STS: the security token included in the request is invalid")
    sig = sigv4_query_signature(url, ident["secretAccessKey"], cluster, ident.get("sessionToken"))
    if not hmac.compare_digest(sig["signature"], params.get("x-amz-signature", "")):
        raise TokenError(
            "STS: SignatureDoesNotMatch (wrong secret key, or signed for another cluster "
            f"than {cluster!r} / another host)")
    return url, ident, access_key_id


# ---- arn.Canonicalize (pkg/arn/arn.go) ----
PARTITIONS = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}


def canonicalize(arn):
    """Returns (principal type, canonical ARN); raises TokenError as arn.Canonicalize errors."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise TokenError(f"arn {arn!r} is invalid")
    _, partition, service, _region, account, resource = parts
    if partition not in PARTITIONS:
        raise TokenError(f"arn {arn!r} does not have a recognized partition")
    res = resource.split("/")
    if service == "sts":
        if res[0] == "federated-user":
            return "federated-user", arn
        if res[0] == "assumed-role":
            if len(res) < 3:
                raise TokenError(f"assumed-role arn {arn!r} does not have a role")
            role = "/".join(res[1:-1])
            return "assumed-role", f"arn:{partition}:iam::{account}:role/{role}"
        raise TokenError(f"unrecognized resource {resource} for service sts")
    if service == "iam":
        if res[0] in ("role", "user", "root"):
            return res[0], arn
        raise TokenError(f"unrecognized resource {resource} for service iam")
    raise TokenError(f"service {service} in arn {arn} is not a valid service for identities")

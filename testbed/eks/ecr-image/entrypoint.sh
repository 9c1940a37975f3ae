#!/bin/sh
# One user, AWS, whose password is what moto's ECR GetAuthorizationToken returns for the registry
# id ECR_REGISTRY_ID (base64 of "AWS:<id>-auth-token"); ECR_PASSWORD overrides it. With
# /certs/tls.crt and /certs/tls.key mounted, the registry serves HTTPS.
set -eu
password=${ECR_PASSWORD:-${ECR_REGISTRY_ID}-auth-token}
htpasswd -Bbn AWS "$password" >/etc/docker/registry/htpasswd
if [ -f /certs/tls.crt ] && [ -f /certs/tls.key ]; then
  export REGISTRY_HTTP_TLS_CERTIFICATE=/certs/tls.crt REGISTRY_HTTP_TLS_KEY=/certs/tls.key
fi
exec /usr/bin/docker-registry "$@"

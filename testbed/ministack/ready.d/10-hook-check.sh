#!/bin/sh
# LocalStack-style ready hook (the image check of scripts/testbed mounts this directory at
# /etc/localstack/init/ready.d, as nexus-dev does): MiniStack runs .sh hooks with `sh` once it
# serves requests, with AWS_ENDPOINT_URL and test credentials set. No aws CLI in the image.
set -e
python3 -c 'import boto3; boto3.client("s3").create_bucket(Bucket="testbed-hook-sh")'

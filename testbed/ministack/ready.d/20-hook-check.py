"""LocalStack-style ready hook: MiniStack runs .py hooks with its own Python (boto3 is there)."""
import boto3

boto3.client("s3").create_bucket(Bucket="testbed-hook-py")

#!/usr/bin/perl
# The example backend: a tiny HTTP/1.0 server (Debian's essential perl-base has sockets).
#   GET /health          "ok" (the spec's default probe path; /healthz too)
#   GET /api/hello       the greeting below: edit it while `nexus-dev watch` runs and the image
#                        is rebuilt and rolled out; logs the request line with its query
#   GET /api/table       a DynamoDB Scan (Limit 1) of the capability's license table, through the
#                        endpoint the pod is given (AWS_ENDPOINT_URL: the emulator, by name)
#   GET /api/cache       what the server wrote at start under WRITE_TO (a writable path of a
#                        read-only image: securityContext.writablePaths)
#   GET /api/env-length/NAME  the length of the environment variable NAME (only its length:
#                        a secret handed to the pod, `secrets: {mount: env}`, is never shown)
#   anything else        a file under the static directory. Files synced live (sync rule
#                        static -> /tmp/static) are served first: hardened pods mount /
#                        read-only and /tmp is their one writable volume.
use strict;
use warnings;
use IO::Socket::INET;

my $greeting = "hello from the example api";

my $port = $ENV{PORT} || 8000;
my @roots = ('/tmp/static', '/app/static');
$| = 1;
# A slow starter, on demand: nothing listens for START_DELAY seconds (a startup probe keeps the
# liveness probe from killing it meanwhile).
if (my $delay = $ENV{START_DELAY}) { print "starting in ${delay}s\n"; sleep $delay }
if (my $dir = $ENV{WRITE_TO}) {
  open(my $fh, '>', "$dir/started") or die "cannot write to $dir: $!\n";
  print $fh "started at " . time() . "\n";
  close $fh;
}
my $server = IO::Socket::INET->new(LocalPort => $port, Listen => 16, ReuseAddr => 1, Proto => 'tcp')
  or die "cannot listen on $port: $!\n";
$| = 1;
# PID 1 in its container: without a handler SIGTERM is ignored and every stop waits for the
# grace period (30 s), rollouts included.
$SIG{TERM} = sub { print "stopping\n"; exit 0 };
print "api listening on :$port\n";

sub answer {
  my ($client, $status, $type, $body) = @_;
  print $client "HTTP/1.0 $status\r\nContent-Type: $type\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
}

# One DynamoDB call (JSON protocol). MiniStack, like every emulator, does not check the signature,
# so the request carries only the credential scope (it selects the region).
sub dynamodb {
  my ($target, $body) = @_;
  my $endpoint = $ENV{AWS_ENDPOINT_URL} or return (502, "AWS_ENDPOINT_URL is not set\n");
  my ($host, $hport) = $endpoint =~ m{^http://([^/:]+)(?::(\d+))?} or return (502, "unsupported endpoint $endpoint\n");
  $hport ||= 80;
  my $region = $ENV{AWS_REGION} || 'us-east-1';
  my $key = $ENV{AWS_ACCESS_KEY_ID} || 'test';
  my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $hport, Proto => 'tcp', Timeout => 5)
    or return (502, "cannot reach $host:$hport: $!\n");
  print $s "POST / HTTP/1.0\r\nHost: $host:$hport\r\nContent-Type: application/x-amz-json-1.0\r\n"
    . "X-Amz-Target: DynamoDB_20120810.$target\r\nX-Amz-Date: 20260101T000000Z\r\n"
    . "Authorization: AWS4-HMAC-SHA256 Credential=$key/20260101/$region/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n$body";
  local $/;
  my $reply = <$s> // '';
  close $s;
  my ($code) = $reply =~ m{^HTTP/\S+ (\d+)};
  my (undef, $payload) = split /\r?\n\r?\n/, $reply, 2;
  return ($code || 502, $payload // '');
}

while (my $client = $server->accept) {
  my $request = <$client> // '';
  while (my $line = <$client>) { last if $line =~ /^\r?\n$/ }
  my ($asked) = $request =~ m{^GET (\S+)};
  my $path = $asked // '/';
  $path =~ s/\?.*//;
  if ($path eq '/health' || $path eq '/healthz') {
    answer($client, '200 OK', 'text/plain', "ok\n");
  } elsif ($path eq '/api/hello') {
    print "GET $asked\n";
    answer($client, '200 OK', 'text/plain', "$greeting\n");
  } elsif ($path eq '/api/table') {
    my $table = $ENV{DYNAMODB_TABLE_LICENSE} // '';
    my ($code, $body) = dynamodb('Scan', qq({"TableName": "$table", "Limit": 1}));
    # A failure's answer too (the emulator's error, or why it could not be reached).
    (my $why = $code == 200 ? '' : " $body") =~ s/\s+$//;
    print "GET /api/table: DynamoDB Scan $table: $code$why\n";
    answer($client, $code == 200 ? '200 OK' : '502 Bad Gateway', 'application/json', $body);
  } elsif ($path =~ m{^/api/env-length/(\w+)$}) {
    defined $ENV{$1} ? answer($client, '200 OK', 'text/plain', length($ENV{$1}) . "\n")
                     : answer($client, '404 Not Found', 'text/plain', "$1 is not set\n");
  } elsif ($path eq '/api/cache' && $ENV{WRITE_TO} && open(my $fh, '<', "$ENV{WRITE_TO}/started")) {
    local $/;
    answer($client, '200 OK', 'text/plain', <$fh>);
  } elsif ($path =~ m{\.\.}) {
    answer($client, '400 Bad Request', 'text/plain', "bad path\n");
  } else {
    $path = '/index.html' if $path eq '/';
    my ($file) = grep { -f } map { "$_$path" } @roots;
    if ($file && open(my $fh, '<', $file)) {
      local $/;
      my $body = <$fh>;
      answer($client, '200 OK', $path =~ /\.html$/ ? 'text/html' : 'text/plain', $body);
    } else {
      answer($client, '404 Not Found', 'text/plain', "not found\n");
    }
  }
  close $client;
}

#!/usr/bin/perl
# The example frontend: a tiny static file server (Debian's essential perl-base has sockets).
#   GET /health   "ok" (the spec's default probe path)
#   GET /backend/PATH  the backend's answer to GET /PATH, in the cluster (BACKEND_URL, such as
#                 http://myapp-dev-backend-svc-internal:8000): the frontend → backend path
#   anything else a file under the static directory; files synced live (sync rule
#                 static -> /tmp/static, the hardened pod's writable volume) are served first.
use strict;
use warnings;
use IO::Socket::INET;

my $port = $ENV{PORT} || 8080;
my @roots = ('/tmp/static', '/app/static');
my $server = IO::Socket::INET->new(LocalPort => $port, Listen => 16, ReuseAddr => 1, Proto => 'tcp')
  or die "cannot listen on $port: $!\n";
$| = 1;
# PID 1 in its container: without a handler SIGTERM is ignored and every stop waits for the
# grace period (30 s), rollouts included.
$SIG{TERM} = sub { print "stopping\n"; exit 0 };
print "web listening on :$port\n";

sub answer {
  my ($client, $status, $type, $body) = @_;
  print $client "HTTP/1.0 $status\r\nContent-Type: $type\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
}

# GET BACKEND_URL/PATH: (status line, body).
sub backend {
  my ($path) = @_;
  my ($host, $bport) = ($ENV{BACKEND_URL} // '') =~ m{^http://([^/:]+)(?::(\d+))?}
    or return ('502 Bad Gateway', "BACKEND_URL is not set\n");
  my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $bport || 80, Proto => 'tcp', Timeout => 5)
    or return ('502 Bad Gateway', "cannot reach $host: $!\n");
  print $s "GET $path HTTP/1.0\r\nHost: $host\r\n\r\n";
  local $/;
  my $reply = <$s> // '';
  close $s;
  my ($code) = $reply =~ m{^HTTP/\S+ (\d+)};
  my (undef, $body) = split /\r?\n\r?\n/, $reply, 2;
  return (($code // 0) == 200 ? '200 OK' : '502 Bad Gateway', $body // '');
}

while (my $client = $server->accept) {
  my $request = <$client> // '';
  while (my $line = <$client>) { last if $line =~ /^\r?\n$/ }
  my ($path) = $request =~ m{^GET (\S+)};
  $path //= '/';
  $path =~ s/\?.*//;
  if ($path eq '/health') {
    answer($client, '200 OK', 'text/plain', "ok\n");
  } elsif ($path =~ m{^/backend(/.*)$}) {
    my ($status, $body) = backend($1);
    answer($client, $status, 'text/plain', $body);
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

#!/usr/bin/perl
# A tiny HTTP/1.0 server: GET /healthz answers "ok"; any other path is a file under the static
# directory. Files synced live (nexus-dev watch, sync rule static -> /tmp/static) are served
# first: hardened pods mount / read-only and /tmp is their one writable volume.
use strict;
use warnings;
use IO::Socket::INET;

my $port = $ENV{PORT} || 8000;
my @roots = ('/tmp/static', '/app/static');
my $server = IO::Socket::INET->new(LocalPort => $port, Listen => 16, ReuseAddr => 1, Proto => 'tcp')
  or die "cannot listen on $port: $!\n";
print "api listening on :$port\n";
$| = 1;

while (my $client = $server->accept) {
  my $request = <$client> // '';
  while (my $line = <$client>) { last if $line =~ /^\r?\n$/ }
  my ($path) = $request =~ m{^GET (\S+)};
  $path //= '/';
  $path =~ s/\?.*//;
  if ($path eq '/healthz') {
    print $client "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n";
  } elsif ($path =~ m{\.\.}) {
    print $client "HTTP/1.0 400 Bad Request\r\n\r\n";
  } else {
    $path = '/index.html' if $path eq '/';
    my ($file) = grep { -f } map { "$_$path" } @roots;
    if ($file && open(my $fh, '<', $file)) {
      local $/;
      my $body = <$fh>;
      print $client "HTTP/1.0 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    } else {
      print $client "HTTP/1.0 404 Not Found\r\n\r\nnot found\n";
    }
  }
  close $client;
}

#!/usr/bin/perl
# scripts/clients/perl-net-smtp.pl: send one small message with Perl's Net::SMTP (libnet 3.14,
# perl core), AUTH through Authen::SASL (its pure-Perl mechanisms, libauthen-sasl-perl) and
# STARTTLS through IO::Socket::SSL, as an application would.
#
# Usage:
#   perl-net-smtp.pl HOST PORT [--auth none|default|plain|login|cram-md5] [--user U]
#                    [--password P] [--tls none|starttls] [--from ADDR] [--to ADDR] [--ca FILE]
#
# --auth default calls $smtp->auth(USER, PASSWORD): Net::SMTP hands the server's whole EHLO
# AUTH list to Authen::SASL, whose pure-Perl backend keeps the mechanisms it can load and
# ranks them (PLAIN and LOGIN rank equal, so the first of them the server lists wins; CRAM-MD5
# would rank higher but needs Digest::HMAC_MD5, libdigest-hmac-perl, which scripts/setup does
# not install). After a 535 it does not try another mechanism. A named mechanism is passed as
# an Authen::SASL object with only that mechanism and the callbacks auth() would give it.
#
# What it sends: Net::SMTP::auth sends "AUTH MECH <base64 of client_start()>" only when
# client_start() returns a non-empty string. Authen::SASL::Perl::PLAIN's is "user\0user\0pass"
# (an initial response; auth() sets the authorization identity to the user name too);
# Authen::SASL::Perl::LOGIN's is empty, so "AUTH LOGIN" goes alone and
# the user name and the password answer the two 334 challenges.
#
# The dialogue (Debug) goes to stderr; the last line on stdout is what Net::SMTP concluded:
# "sent: <reply to the message>" or "failed: <code> <message> (at COMMAND)". Exit code 0 only
# when sent.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use Net::SMTP;
use Authen::SASL;

sub usage {
    print STDERR "usage: perl-net-smtp.pl HOST PORT [--auth none|default|plain|login|cram-md5] "
      . "[--user U] [--password P] [--tls none|starttls] [--from A] [--to A] [--ca FILE]\n";
    exit 2;
}

usage() if @ARGV < 2;
my ($host, $port) = splice(@ARGV, 0, 2);
usage() unless $port =~ /^\d+$/;
my %o = (
    auth => 'none', user => 'alice', password => 's3cret', tls => 'none',
    from => 'a@example.com', to => 'b@example.com',
    ca => File::Spec->rel2abs(dirname(__FILE__) . '/../../certs/ca.pem'),
);
while (@ARGV) {
    my $key = shift @ARGV;
    usage() unless $key =~ /^--(\w+)$/ && exists $o{$1} && @ARGV;
    $o{$1} = shift @ARGV;
}
usage() unless $o{auth} =~ /^(none|default|plain|login|cram-md5)$/;
usage() unless $o{tls} =~ /^(none|starttls)$/;

$| = 1;
sub fail {
    my ($smtp, $at) = @_;
    my $reply = $smtp ? join(' ', map { s/\s+$//r } $smtp->message) : '';
    my $code = $smtp ? $smtp->code : '';
    print "failed: $code $reply (at $at)\n";
    $smtp->quit if $smtp && $at ne 'AUTH';
    exit 1;
}

my $smtp = Net::SMTP->new(
    $host, Port => $port, Hello => 'client.example', Timeout => 10, Debug => 1,
) or do { print "failed: cannot connect: $@\n"; exit 1 };
fail($smtp, 'connect') unless $smtp->code =~ /^2/;

if ($o{tls} eq 'starttls') {
    $smtp->starttls(SSL_ca_file => $o{ca}, SSL_verifycn_name => $host)
      or do { print "failed: STARTTLS: ", ($smtp->code // ''), " ", ($IO::Socket::SSL::SSL_ERROR // ''), "\n"; exit 1 };
}

if ($o{auth} ne 'none') {
    my $ok;
    if ($o{auth} eq 'default') {
        $ok = $smtp->auth($o{user}, $o{password});
    } else {
        my $sasl = Authen::SASL->new(
            mechanism => uc $o{auth},
            callback  => { user => $o{user}, pass => $o{password}, authname => $o{user} },
        );
        $ok = $smtp->auth($sasl);
    }
    fail($smtp, 'AUTH') unless $ok;
}

$smtp->mail($o{from}) or fail($smtp, 'MAIL');
$smtp->to($o{to}) or fail($smtp, 'RCPT');
$smtp->data() or fail($smtp, 'DATA');
$smtp->datasend("From: <$o{from}>\r\nTo: <$o{to}>\r\nSubject: perl Net::SMTP\r\n"
      . "Message-ID: <perl-net-smtp.$$\@client.example>\r\n\r\nHello from Perl's Net::SMTP.\r\n");
$smtp->dataend() or fail($smtp, 'end of data');
my $reply = join(' ', map { s/\s+$//r } $smtp->message);
print "sent: ", $smtp->code, " $reply\n";
$smtp->quit;
exit 0;

#!/usr/bin/env ruby
# scripts/clients/ruby-net-smtp.rb: send one small message with Ruby's net/smtp (the gem
# bundled with Debian's ruby 3.1: net-smtp 0.3.1), as an application would.
#
# Usage:
#   ruby-net-smtp.rb HOST PORT [--auth none|default|plain|login|cram-md5] [--user U]
#                    [--password P] [--tls none|starttls] [--from ADDR] [--to ADDR] [--ca FILE]
#
# --auth default calls start(helo, user, secret) with no mechanism: net/smtp then uses its
# DEFAULT_AUTH_TYPE, :plain, whatever the server offers (it never reads the EHLO AUTH list).
# With --tls starttls, STARTTLS is required and the certificate checked against --ca
# (default certs/ca.pem) and HOST.
#
# What net/smtp 0.3.1 sends (lib/net/smtp.rb): auth_login sends "AUTH LOGIN" with no initial
# response, then the user name and the password each after a 334; auth_plain sends
# "AUTH PLAIN <initial response>". The dialogue (set_debug_output, the reference log format)
# goes to stderr; the last line on stdout is what net/smtp concluded: "sent: <reply to the
# message>" or "failed: <the reply in the exception it raised>". Exit code 0 only when sent.
require 'net/smtp'
require 'openssl'
require_relative 'options'

USAGE = 'usage: ruby-net-smtp.rb HOST PORT [--auth none|default|plain|login|cram-md5] ' \
        '[--user U] [--password P] [--tls none|starttls] [--from A] [--to A] [--ca FILE]'
host, port, opts = client_options(USAGE, %w[none default plain login cram-md5])
authtype = { 'none' => nil, 'default' => nil, 'plain' => :plain, 'login' => :login,
             'cram-md5' => :cram_md5 }.fetch(opts['auth'])

message = <<~MSG.gsub("\n", "\r\n")
  From: <#{opts['from']}>
  To: <#{opts['to']}>
  Subject: ruby net/smtp
  Message-ID: <ruby-net-smtp.#{Process.pid}@client.example>

  Hello from Ruby's net/smtp.
MSG

smtp = Net::SMTP.new(host, port)
smtp.open_timeout = 10
smtp.read_timeout = 10
smtp.set_debug_output($stderr)
if opts['tls'] == 'starttls'
  context = OpenSSL::SSL::SSLContext.new
  context.set_params(ca_file: opts['ca'], verify_mode: OpenSSL::SSL::VERIFY_PEER)
  smtp.enable_starttls(context)
else
  smtp.disable_starttls
end

begin
  response = nil
  args = ['client.example']
  args += [opts['user'], opts['password'], authtype].compact if opts['auth'] != 'none'
  smtp.start(*args) do |s|
    response = s.send_message(message, opts['from'], opts['to'])
  end
  puts "sent: #{response.string.strip}"
  exit 0
rescue Net::SMTPError, Net::ProtocolError, OpenSSL::SSL::SSLError, SystemCallError,
       IOError, Timeout::Error => e
  puts "failed: #{e.message.strip} (#{e.class})"
  exit 1
end

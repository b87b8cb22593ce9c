#!/usr/bin/env ruby
# scripts/clients/ruby-mail-gem.rb: send one small message with Ruby's mail gem (Debian's
# ruby-mail 2.7.1), delivery_method :smtp, which drives net/smtp 0.3.1 underneath.
#
# Usage:
#   ruby-mail-gem.rb HOST PORT [--auth none|plain|login|cram-md5] [--user U] [--password P]
#                    [--tls none|starttls] [--from ADDR] [--to ADDR] [--ca FILE]
#
# The mail gem passes `authentication` to Net::SMTP#start, so it sends what net/smtp sends
# (see ruby-net-smtp.rb): AUTH LOGIN without an initial response, AUTH PLAIN with one.
#
# --tls none cannot turn STARTTLS off: net/smtp 0.3.1 uses STARTTLS whenever the server offers
# it (its default is :auto), mail 2.7.1 never disables that, and the context it then uses
# trusts the system's CAs, not --ca: against a server that offers STARTTLS with the test
# certificate, "--tls none" fails with "certificate verify failed". With --tls starttls the gem
# builds its own context with --ca. The
# last line on stdout is what the gem concluded: "sent: <reply to the message>" or
# "failed: <the reply in the exception it raised>". Exit code 0 only when sent.
require 'mail'
require 'openssl'
require_relative 'options'

USAGE = 'usage: ruby-mail-gem.rb HOST PORT [--auth none|plain|login|cram-md5] [--user U] ' \
        '[--password P] [--tls none|starttls] [--from A] [--to A] [--ca FILE]'
host, port, opts = client_options(USAGE, %w[none plain login cram-md5])

settings = {
  address: host, port: port, domain: 'client.example',
  open_timeout: 10, read_timeout: 10,
  enable_starttls: opts['tls'] == 'starttls', enable_starttls_auto: false,
  openssl_verify_mode: OpenSSL::SSL::VERIFY_PEER, ca_file: opts['ca'],
  return_response: true
}
if opts['auth'] != 'none'
  settings.merge!(user_name: opts['user'], password: opts['password'],
                  authentication: opts['auth'].tr('-', '_').to_sym)
end

mail = Mail.new do
  from    opts['from']
  to      opts['to']
  subject 'ruby mail gem'
  body    "Hello from Ruby's mail gem.\n"
end
mail.delivery_method :smtp, settings

begin
  response = mail.deliver!
  text = response.respond_to?(:string) ? response.string.strip : response.to_s
  puts "sent: #{text}"
  exit 0
rescue Net::SMTPError, Net::ProtocolError, OpenSSL::SSL::SSLError, SystemCallError,
       IOError, Timeout::Error => e
  puts "failed: #{e.message.strip} (#{e.class})"
  exit 1
end

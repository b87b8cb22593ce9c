# scripts/clients/options.rb: the command line the Ruby drivers share (see README.md):
# HOST PORT [--auth A] [--user U] [--password P] [--tls none|starttls] [--from A] [--to A]
# [--ca FILE]. Bad usage prints the driver's usage line and exits 2.

# Parses ARGV into [host, port, options]; `auths` are the --auth values the driver takes.
def client_options(usage_line, auths)
  usage = lambda do
    warn usage_line
    exit 2
  end
  usage.call if ARGV.length < 2
  host = ARGV.shift
  port = Integer(ARGV.shift, exception: false) || usage.call
  opts = {
    'auth' => 'none', 'user' => 'alice', 'password' => 's3cret', 'tls' => 'none',
    'from' => 'a@example.com', 'to' => 'b@example.com',
    'ca' => File.expand_path('../../certs/ca.pem', __dir__)
  }
  until ARGV.empty?
    key = ARGV.shift
    usage.call unless key.start_with?('--') && opts.key?(key[2..]) && !ARGV.empty?
    opts[key[2..]] = ARGV.shift
  end
  usage.call unless auths.include?(opts['auth'])
  usage.call unless %w[none starttls].include?(opts['tls'])
  [host, port, opts]
end

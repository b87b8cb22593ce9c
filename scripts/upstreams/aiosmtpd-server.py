#!/usr/bin/python3
"""A real SMTP server for tests: aiosmtpd (Debian's python3-aiosmtpd) on a loopback port.

Usage:
    aiosmtpd-server.py [--host 127.0.0.1] [--port 0] [--mode plain|starttls|implicit]
                       [--cert PEM --key PEM] [--require-starttls] [--hostname NAME]
                       [--spool DIR]

Prints `listening on HOST:PORT` as its first line (port 0 picks a free one), then serves until
SIGTERM or SIGINT. Modes: `plain` (no TLS; AUTH offered in clear text), `starttls` (STARTTLS
with --cert/--key; AUTH only inside TLS; --require-starttls refuses MAIL before it), `implicit`
(TLS from the first byte with --cert/--key, port-465 style). AUTH PLAIN and LOGIN accept user
`alice` with password `s3cret` and answer anything else with aiosmtpd's 535. Every accepted
message is written to --spool as N.eml (when given) and summarised on stderr.

It runs under /usr/bin/python3 on purpose: that is where Debian's package installs aiosmtpd.
"""
import argparse
import asyncio
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USERS = {b"alice": b"s3cret"}


class Handler:
    def __init__(self, spool):
        self.spool = spool
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        content = envelope.original_content or b""
        if self.spool:
            path = os.path.join(self.spool, f"{self.count}.eml")
            with open(path + ".tmp", "wb") as f:
                f.write(content)
            os.rename(path + ".tmp", path)
        print(
            f"message {self.count}: from=<{envelope.mail_from}> "
            f"to={','.join('<%s>' % r for r in envelope.rcpt_tos)} size={len(content)}",
            file=sys.stderr,
            flush=True,
        )
        return "250 2.0.0 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and USERS.get(auth_data.login) == auth_data.password:
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=["plain", "starttls", "implicit"], default="plain")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--hostname", default="upstream.test")
    parser.add_argument("--spool")
    args = parser.parse_args()

    context = None
    if args.mode != "plain":
        if not (args.cert and args.key):
            parser.error(f"--mode {args.mode} needs --cert and --key")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    if args.spool:
        os.makedirs(args.spool, exist_ok=True)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Handler(args.spool)

    def factory():
        return SMTP(
            handler,
            hostname=args.hostname,
            tls_context=context if args.mode == "starttls" else None,
            require_starttls=args.require_starttls,
            # Inside implicit TLS aiosmtpd does not know it is encrypted: allow AUTH there.
            auth_require_tls=args.mode == "starttls",
            authenticator=authenticator,
            timeout=60,
            loop=loop,
        )

    server = loop.run_until_complete(
        loop.create_server(
            factory,
            host=args.host,
            port=args.port,
            ssl=context if args.mode == "implicit" else None,
        )
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


if __name__ == "__main__":
    main()

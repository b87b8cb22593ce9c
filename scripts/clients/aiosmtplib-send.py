#!/usr/bin/env python3
"""Send one small message with aiosmtplib (5.1.3, in the venv .venv-clients/ that
scripts/setup makes: run this with .venv-clients/bin/python), as an application would.

Usage:
    aiosmtplib-send.py HOST PORT [--auth none|default|plain|login|cram-md5] [--user U]
                       [--password P] [--tls none|starttls] [--from ADDR] [--to ADDR]
                       [--ca FILE]

--auth default calls SMTP.login(): it tries every mechanism both sides support in its own
order (CRAM-MD5, PLAIN, LOGIN) until one succeeds, so after a 535 it tries the next one. A
named mechanism calls that one method (auth_plain, auth_login, auth_crammd5) once.

What it sends: auth_login sends "AUTH LOGIN <base64 user>" (the user name as an initial
response), expects a 334 (Password:) and answers it with the password; auth_plain sends
"AUTH PLAIN <initial response>".

The last line on stdout is what aiosmtplib concluded: "sent: <reply to the message>" or
"failed: <code> <message> (<exception>)". Exit code 0 only when sent.
"""
import argparse
import asyncio
import os
import ssl
import sys

import aiosmtplib

HERE = os.path.dirname(os.path.abspath(__file__))


def parse(argv):
    p = argparse.ArgumentParser(prog="aiosmtplib-send.py")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--auth", choices=["none", "default", "plain", "login", "cram-md5"], default="none")
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="s3cret")
    p.add_argument("--tls", choices=["none", "starttls"], default="none")
    p.add_argument("--from", dest="sender", default="a@example.com")
    p.add_argument("--to", default="b@example.com")
    p.add_argument("--ca", default=os.path.join(HERE, "..", "..", "certs", "ca.pem"))
    return p.parse_args(argv)


async def send(o):
    message = (
        f"From: <{o.sender}>\r\nTo: <{o.to}>\r\nSubject: aiosmtplib\r\n"
        f"Message-ID: <aiosmtplib-send.{os.getpid()}@client.example>\r\n\r\n"
        "Hello from aiosmtplib.\r\n"
    )
    context = ssl.create_default_context(cafile=o.ca)
    client = aiosmtplib.SMTP(
        hostname=o.host,
        port=o.port,
        local_hostname="client.example",
        timeout=10,
        start_tls=o.tls == "starttls",
        tls_context=context,
    )
    # connect() says EHLO only when it has to for STARTTLS (and forgets the answer after
    # TLS); the auth_* methods do not say it themselves, login() and sendmail() do.
    await client.connect()
    try:
        await client.ehlo()
        if o.auth == "default":
            await client.login(o.user, o.password)
        elif o.auth != "none":
            method = getattr(client, "auth_" + o.auth.replace("-", ""))
            await method(o.user, o.password)
        # What sendmail() does, one command at a time, to keep the final reply's code.
        await client.mail(o.sender)
        await client.rcpt(o.to)
        reply = await client.data(message)
        await client.quit()
        return f"sent: {reply.code} {reply.message.strip()}", 0
    finally:
        client.close()


def main(argv):
    o = parse(argv)
    try:
        text, code = asyncio.run(send(o))
    except aiosmtplib.SMTPResponseException as e:
        text, code = f"failed: {e.code} {e.message.strip()} ({type(e).__name__})", 1
    except (aiosmtplib.SMTPException, OSError) as e:
        text, code = f"failed: {e} ({type(e).__name__})", 1
    print(text)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

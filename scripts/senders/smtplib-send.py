#!/usr/bin/env python3
"""Send one message with Python's smtplib: a `command` sender for `smtp-harness run`.

Usage (the scenario's `run` line fills the placeholders):
    smtplib-send.py HOST PORT CA ENCRYPTION AUTH USER PASSWORD FROM TO MESSAGE-FILE

ENCRYPTION is none, starttls, starttls-opportunistic or tls; AUTH is none, plain, login or
cram-md5. Exit code 0 when the server accepted the message, 1 otherwise (the error on stderr).
"""
import smtplib
import ssl
import sys


def main(argv):
    host, port, ca, encryption, auth, user, password, sender, to, message_file = argv[1:11]
    context = ssl.create_default_context(cafile=ca)
    with open(message_file, "rb") as f:
        message = f.read()
    try:
        if encryption == "tls":
            client = smtplib.SMTP_SSL(host, int(port), context=context, timeout=10, local_hostname="client.test")
        else:
            client = smtplib.SMTP(host, int(port), timeout=10, local_hostname="client.test")
        with client:
            client.ehlo()
            if encryption == "starttls" or (encryption == "starttls-opportunistic" and client.has_extn("starttls")):
                client.starttls(context=context)
                client.ehlo()
            if auth != "none":
                client.user, client.password = user, password
                mechanism = {"plain": "PLAIN", "login": "LOGIN", "cram-md5": "CRAM-MD5"}[auth]
                method = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
                client.auth(mechanism, method, initial_response_ok=mechanism == "PLAIN")
            refused = client.sendmail(sender, to.split(","), message)
            if refused:
                print(f"refused recipients: {refused}", file=sys.stderr)
                return 1
    except (smtplib.SMTPException, OSError) as e:
        print(f"smtplib: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print("smtplib: message accepted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""A real SMTP server for tests/smtp.rs: aiosmtpd on 127.0.0.1, a port of its own.

Prints the port on its first line, then keeps every message it is given as two files in
the folder named by its argument: N.eml (the bytes as received) and N.json (the envelope,
and the message as Python's standard e-mail parser reads it: headers decoded from RFC 2047
and the body from its transfer encoding), so the Rust test checks the message with a
parser that is not lettre's.
"""

import asyncio
import json
import sys
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path

from aiosmtpd.smtp import SMTP


class Capture:
    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        (self.folder / f"{self.count}.eml").write_bytes(raw)
        message = message_from_bytes(raw, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        # The display name through the RFC 2047 decoder itself: the default policy's
        # address parser keeps the folding space between two encoded-words of a phrase,
        # which RFC 2047 section 6.2 says to drop (it showed "Очер едь" for "Очередь").
        raw_from = message_from_bytes(raw, policy=policy.compat32)["From"]
        from_name, from_address = parseaddr(str(make_header(decode_header(raw_from))))
        parsed = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {key: str(value) for key, value in message.items()},
            "from_display_name": from_name,
            "from_address": from_address,
            "to": [a.addr_spec for a in message["To"].addresses],
            "content_type": message.get_content_type(),
            "charset": message.get_content_charset(),
            "body": body.get_content() if body is not None else None,
        }
        # Written last and renamed: the test reads a whole file or none.
        temporary = self.folder / f".{self.count}.json"
        temporary.write_text(json.dumps(parsed, ensure_ascii=False))
        temporary.rename(self.folder / f"{self.count}.json")
        return "250 Message accepted for delivery"


def main():
    folder = Path(sys.argv[1])
    loop = asyncio.new_event_loop()
    handler = Capture(folder)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True), "127.0.0.1", 0)
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()

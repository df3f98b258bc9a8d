"""SMTP target: one plain-text mail per alert (``smtplib``).

Options: ``address`` (``host:port``, default ``127.0.0.1:25``), ``from``, ``to`` (string or list),
``user``/``password`` (or ``password_env``), ``tls``: ``none`` (default), ``starttls`` or ``ssl``,
``insecure``/``ca_cert``. Subject ``[<Priority>] <rule>``; body = output line then one
``field: value`` line per output field.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import split_hostport
from lanner.outputs.fanout.httpbase import tls_from


class SmtpTarget(Target):
    type_name = "smtp"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.host, self.port = split_hostport(str(options.get("address", "127.0.0.1:25")), 25)
        self.timeout = float(options.get("timeout_ms", 10000)) / 1000
        to = options.get("to") or []
        self.to = [to] if isinstance(to, str) else [str(x) for x in to]
        self.sender = str(options.get("from", "lanner@localhost"))
        self.tls = str(options.get("tls", "none")).lower()
        if not self.to:
            raise ValueError(f"fanout {name}: smtp needs 'to'")

    def message(self, event: dict[str, Any], alert: Alert) -> EmailMessage:
        m = EmailMessage()
        m["Subject"] = f"[{event['priority']}] {alert.rule}"
        m["From"] = self.sender
        m["To"] = ", ".join(self.to)
        m["Date"] = formatdate(alert.time_ns / 1e9, localtime=False)
        m["Message-ID"] = make_msgid(domain="lanner")
        lines = [event["output"], "", f"rule: {alert.rule}", f"priority: {event['priority']}",
                 f"source: {event['source']}", f"hostname: {event['hostname']}", f"time: {event['time']}"]
        if event.get("tags"):
            lines.append("tags: " + ", ".join(event["tags"]))
        for k, v in sorted((event.get("output_fields") or {}).items()):
            lines.append(f"{k}: {'<NA>' if v is None else v}")
        m.set_content("\n".join(lines) + "\n")
        return m

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        ctx = tls_from(self.options).context() if self.tls in ("ssl", "starttls") else None
        try:
            if self.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ctx)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=ctx)
                if self.options.get("user"):
                    smtp.login(str(self.options["user"]), str(self.options.get("password", "")))
                smtp.send_message(self.message(event, alert), from_addr=self.sender, to_addrs=self.to)
        except smtplib.SMTPAuthenticationError as e:
            raise PermanentError(f"smtp {self.host}:{self.port}: authentication failed ({e.smtp_code})") from None
        except smtplib.SMTPResponseException as e:
            if 400 <= e.smtp_code < 500:
                raise TransientError(f"smtp {self.host}:{self.port}: {e.smtp_code} {e.smtp_error!r}") from None
            raise PermanentError(f"smtp {self.host}:{self.port}: {e.smtp_code} {e.smtp_error!r}") from None
        except smtplib.SMTPRecipientsRefused:
            raise PermanentError(f"smtp {self.host}:{self.port}: all recipients refused") from None
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as e:
            raise TransientError(f"smtp {self.host}:{self.port}: {type(e).__name__}: {e}") from None

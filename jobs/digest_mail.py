"""A digest as an e-mail, and its delivery over SMTP.

Each message carries the digest's stable id twice: ``Message-ID: <DIGEST_ID@ecowatch>`` and
``X-Ecowatch-Digest-Id`` (a resent digest is the same message to the recipient's mail system),
and RFC 8058 one-click unsubscribe: ``List-Unsubscribe: <URL>`` with a signed token and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (the link acts on POST only).
The body is plain text and HTML (every value escaped).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from config import Settings

logger = logging.getLogger(__name__)

DIGEST_HEADER = "X-Ecowatch-Digest-Id"


class DeliveryError(RuntimeError):
    """A digest could not be delivered this time (the message says why; the outbox keeps it pending)."""


def message_id(digest_id: str) -> str:
    return f"<{digest_id}@ecowatch>"


def _line(item: dict[str, Any]) -> str:
    flags = ", ".join(item.get("flags") or []) or "no flag"
    area = f"{item['area_ha']:.2f} ha" if isinstance(item.get("area_ha"), int | float) else "? ha"
    text = f"- {item['clearing_id']}: risk {item.get('risk') if item.get('risk') is not None else '-'}, {area}, {item.get('confidence') or '?'} confidence, " \
           f"first detected {item.get('first_detected') or '?'}, {flags}; at {item.get('lat')}, {item.get('lon')}"
    links = item.get("linked_seizures")
    if isinstance(links, dict) and links.get("seizures"):
        text += f"; {links['seizures']} linked seizure(s) ({links.get('timber', 0)} timber, {links.get('wildlife', 0)} wildlife)"
    if item.get("report_url"):
        text += f"\n  report: {item['report_url']}"
    return text


def compose(payload: dict[str, Any], *, to: str, sender: str, unsubscribe_url: str) -> EmailMessage:
    """The digest e-mail for ``payload`` (:func:`layers.digests.digest_payload`)."""
    msg = EmailMessage()
    n = payload["total"]
    msg["Subject"] = f"ecowatch: {n} new clearing{'s' if n != 1 else ''} in {payload['watch_area']}"
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = message_id(payload["digest_id"])
    msg[DIGEST_HEADER] = payload["digest_id"]
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    lines = [f"New clearings in your watch area {payload['watch_area']} since the last digest: {n}"
             + (f" (the {payload['listed']} riskiest listed)" if payload["listed"] < n else "") + ".", ""]
    lines += [_line(item) for item in payload["clearings"]]
    lines += ["", f"Digest {payload['digest_id']}. Stop these digests: {unsubscribe_url}"]
    msg.set_content("\n".join(lines))
    rows = "".join(f"<li>{html.escape(_line(item)).replace(chr(10), '<br>')}</li>" for item in payload["clearings"])
    msg.add_alternative(
        f"<p>New clearings in your watch area <strong>{html.escape(str(payload['watch_area']))}</strong> since the last digest: {n}.</p>"
        f"<ul>{rows}</ul><p><small>Digest {html.escape(payload['digest_id'])}. "
        f"<a href=\"{html.escape(unsubscribe_url, quote=True)}\">Stop these digests</a>.</small></p>",
        subtype="html",
    )
    return msg


def send_mail(settings: Settings, msg: EmailMessage) -> str:
    """Send ``msg`` over the configured SMTP server; returns what the server said.

    Raises
    ------
    DeliveryError
        When no server is configured, it cannot be reached, refuses the login or the recipient.
    """
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server configured (setting smtp_host)")
    timeout = settings.smtp_timeout_s
    try:
        if settings.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            refused = client.send_message(msg)
    except (smtplib.SMTPException, OSError) as err:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {err}") from err
    if refused:
        raise DeliveryError(f"SMTP refused {', '.join(refused)}")
    return f"mail to {msg['To']}"

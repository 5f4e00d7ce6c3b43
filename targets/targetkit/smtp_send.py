"""Sending one e-mail through real SMTP (smtplib), with the headers the harness correlates on.

The `Message-ID` is chosen by the caller, not by the SMTP library, so that the same job always produces
the same id: the identity a sent-message record is keyed by, and what shows two deliveries of one job.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from targets.targetkit.environment import SmtpSettings

OP_REF_HEADER = "X-Op-Ref"
NAMESPACE_HEADER = "X-Harness-Namespace"


@dataclass(frozen=True)
class OutgoingMail:
    """One message to deliver; `headers` are extra header fields such as `X-Op-Ref`."""

    message_id: str
    sender: str
    to: str
    subject: str
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_message(self) -> EmailMessage:
        message = EmailMessage()
        message["Message-ID"] = self.message_id
        message["From"] = self.sender
        message["To"] = self.to
        message["Subject"] = self.subject
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.body)
        return message


def send_mail(settings: SmtpSettings, mail: OutgoingMail) -> None:
    """Deliver `mail` over one SMTP session; raises `OSError` / `smtplib.SMTPException` if not accepted.

    Returning normally means the server accepted the message (250 after DATA): from then on the effect
    has happened, whatever this process does next.
    """
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s) as client:
        client.send_message(mail.to_message())

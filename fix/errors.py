"""Typed errors of the FIX engine.

Modelled on h11: a `LocalProtocolError` means *our* side (the application) tried to do
something the protocol forbids; a `RemoteProtocolError` means the counterparty sent
something broken. Validation failures carry the session-level reject reason (373) and
the offending tag (371) so the session can answer with exactly the Reject the spec asks for.

Applications raise `UnsupportedMessageType`, `BusinessReject` or `SessionReject` from
their message handler to make the session answer with 35=j / 35=3 instead of silently
accepting the message.
"""

from __future__ import annotations


class FixError(Exception):
    """Base class of every error raised by the `fix` package."""


class LocalProtocolError(FixError):
    """Our side misused the session (e.g. sending before logon, malformed outbound field)."""


class RemoteProtocolError(FixError):
    """The counterparty sent bytes that violate FIX."""


class GarbledMessage(RemoteProtocolError):
    """Framing, BodyLength, CheckSum or tag syntax is broken: the message is dropped silently."""


class ConfigError(FixError):
    """A session configuration is inconsistent or refers to missing files."""


class StoreError(FixError):
    """The message store could not read or persist state."""


# SessionRejectReason (373) codes and the Text (58) QuickFIX sends with them.
REJECT_TEXT: dict[int, str] = {
    0: "Invalid tag number",
    1: "Required tag missing",
    2: "Tag not defined for this message type",
    3: "Undefined Tag",
    4: "Tag specified without a value",
    5: "Value is incorrect (out of range) for this tag",
    6: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    9: "CompID problem",
    10: "SendingTime accuracy problem",
    11: "Invalid MsgType",
    13: "Tag appears more than once",
    14: "Tag specified out of required order",
    15: "Repeating group fields out of order",
    16: "Incorrect NumInGroup count for repeating group",
    17: "Non Data value includes field delimiter (SOH character)",
    99: "Other",
}

# BusinessRejectReason (380) codes and texts.
BUSINESS_REJECT_TEXT: dict[int, str] = {
    0: "Other",
    1: "Unknown ID",
    2: "Unknown Security",
    3: "Unsupported Message Type",
    4: "Application not available",
    5: "Conditionally Required Field Missing",
    6: "Not authorized",
    7: "DeliverTo firm not available at this time",
    18: "Invalid price increment",
}


class ValidationError(RemoteProtocolError):
    """A well-framed message failed data-dictionary validation.

    `reason` is the SessionRejectReason (373); `tag` the RefTagID (371) or None;
    `tag_text` keeps the tag exactly as received (it may be "-1" or "0").
    """

    def __init__(self, reason: int, tag: int | None = None, tag_text: bytes | None = None, text: str | None = None):
        self.reason = reason
        self.tag = tag
        self.tag_text = tag_text if tag_text is not None else (str(tag).encode() if tag is not None else None)
        self.text = text or REJECT_TEXT.get(reason, "Rejected")
        super().__init__(f"{self.text} (373={reason}, 371={self.tag_text.decode() if self.tag_text else '-'})")


class UnsupportedVersion(RemoteProtocolError):
    """BeginString (8) differs from the session's."""


class ApplicationReject(FixError):
    """Base for rejects an application raises from its message handler."""


class UnsupportedMessageType(ApplicationReject):
    """The application does not handle this MsgType: answered with 35=j, 380=3."""


class BusinessReject(ApplicationReject):
    """Answer the message with BusinessMessageReject (35=j)."""

    def __init__(self, reason: int = 0, text: str | None = None, ref_tag: int | None = None, ref_id: str | None = None):
        self.reason = reason
        self.text = text or BUSINESS_REJECT_TEXT.get(reason, "Other")
        self.ref_tag = ref_tag
        self.ref_id = ref_id
        super().__init__(self.text)


class SessionReject(ApplicationReject):
    """Answer the message with a session-level Reject (35=3)."""

    def __init__(self, reason: int, tag: int | None = None, text: str | None = None):
        self.reason = reason
        self.tag = tag
        self.text = text or REJECT_TEXT.get(reason, "Rejected")
        super().__init__(self.text)


class RejectLogon(ApplicationReject):
    """Raised by an application's logon hook to refuse a Logon (answered with Logout + disconnect)."""

    def __init__(self, text: str = "Logon rejected"):
        self.text = text
        super().__init__(text)

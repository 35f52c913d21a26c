"""Strict EDI syntax: ANSI X12 and UN/EDIFACT interchanges into messages of segments.

Each standard declares its own delimiters in its envelope (X12: the fixed-width ISA segment;
EDIFACT: the optional UNA service string advice, else the defaults) and EDIFACT its character
set (UNB syntax identifier). Both are honoured; release characters are undone; every envelope
count and control number is checked. Anything wrong is an ``EdiError`` naming the file, the
segment's number and tag and its byte offset — a partner's file is either read exactly or refused
with a reason someone can act on, never turned into plausible garbage.

Python has no maintained X12 4010 parser for supply-chain sets (pyx12 maps HIPAA sets only),
and EDIFACT libraries do not report offsets or check the declared character set, hence this
module: a tokenizer, not an interpretation (that is ``documents`` and the mappings).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EdiError", "Message", "Segment", "parse_edifact", "parse_interchanges", "parse_x12"]


class EdiError(ValueError):
    def __init__(
        self, source: str, reason: str, *, segment: int | None = None, tag: str = "", offset: int = -1
    ):
        where = [source]
        if segment is not None:
            where.append(f"segment {segment}" + (f" ({tag})" if tag else ""))
        if offset >= 0:
            where.append(f"byte {offset}")
        super().__init__(f"{', '.join(where)}: {reason}")
        self.source, self.reason, self.segment, self.tag, self.offset = source, reason, segment, tag, offset


@dataclass(frozen=True)
class Segment:
    tag: str
    elements: list[list[str]]  # elements, each a list of components
    number: int  # 1-based position in the interchange
    offset: int  # byte offset in the file

    def element(self, index: int, component: int = 0) -> str:
        """``index`` is 1-based, as the standards number them (BEG03 = element(3))."""
        if index > len(self.elements) or component >= len(self.elements[index - 1]):
            return ""
        return self.elements[index - 1][component]


@dataclass
class Message:
    """One transaction set (X12 ST..SE) or message (EDIFACT UNH..UNT) with its envelope facts."""

    standard: str
    type: str
    version: str
    control: str
    sender: str
    receiver: str
    interchange: str
    segments: list[Segment] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "standard": self.standard,
            "type": self.type,
            "version": self.version,
            "control": self.control,
            "sender": self.sender,
            "receiver": self.receiver,
            "interchange": self.interchange,
            "segments": [{"tag": s.tag, "elements": s.elements, "number": s.number} for s in self.segments],
        }


def parse_interchanges(data: bytes, source: str) -> list[Message]:
    """Every message of a file, whichever standard it is in."""
    start = data.lstrip()[:3]
    if start == b"ISA":
        return parse_x12(data, source)
    if start in (b"UNA", b"UNB"):
        return parse_edifact(data, source)
    raise EdiError(source, f"neither X12 (ISA) nor EDIFACT (UNA/UNB): starts with {data[:20]!r}")


# -- X12 ------------------------------------------------------------------------------------------


def parse_x12(data: bytes, source: str) -> list[Message]:
    messages: list[Message] = []
    position = len(data) - len(data.lstrip())
    while position < len(data) and data[position:].strip():
        position = _x12_interchange(data, position, source, messages)
        while position < len(data) and data[position : position + 1].isspace():
            position += 1
    return messages


def _x12_interchange(data: bytes, start: int, source: str, messages: list[Message]) -> int:
    isa = data[start : start + 106]
    if len(isa) < 106 or not isa.startswith(b"ISA"):
        raise EdiError(source, "an X12 interchange must begin with a 106-character ISA segment", offset=start)
    element, component, terminator = chr(isa[3]), chr(isa[104]), isa[105:106]
    text = _decode(data, "ascii", source)  # X12's basic and extended character sets are ASCII
    segments: list[Segment] = []
    offset, number = start, 0
    while offset < len(data):
        end = data.find(terminator, offset)
        if end < 0 and data[offset:].strip().startswith(b"IEA"):
            end = len(data)  # a newline terminator is often missing after the very last segment
        elif end < 0:
            raise EdiError(
                source, f"segment without terminator {terminator!r}", segment=number + 1, offset=offset
            )
        raw = text[offset:end].strip("\r\n")
        number += 1
        parts = raw.split(element)
        tag = parts[0]
        if not tag.isalnum() or not 2 <= len(tag) <= 3:
            raise EdiError(source, f"{raw[:20]!r} is not a segment", segment=number, offset=offset)
        elements = [p.split(component) if tag != "ISA" else [p] for p in parts[1:]]
        segments.append(Segment(tag, elements, number, offset))
        offset = end + 1
        if tag == "IEA":
            break
    else:
        raise EdiError(source, "interchange ends without IEA", segment=number, offset=offset)
    _x12_envelope(segments, source, messages)
    return offset


def _x12_envelope(segments: list[Segment], source: str, messages: list[Message]) -> None:
    isa, iea = segments[0], segments[-1]
    if not _same_control(iea.element(2), isa.element(13)):
        raise _at(source, iea, f"IEA02 {iea.element(2)!r} does not match ISA13 {isa.element(13)!r}")
    groups = 0
    group: Segment | None = None
    current: Message | None = None
    in_group = 0
    for segment in segments[1:-1]:
        if segment.tag == "GS":
            group, in_group, groups = segment, 0, groups + 1
        elif segment.tag == "GE":
            if group is None or not _same_control(segment.element(2), group.element(6)):
                raise _at(source, segment, "GE02 does not match GS06")
            if segment.element(1) != str(in_group):
                raise _at(
                    source,
                    segment,
                    f"GE01 counts {segment.element(1)} transaction sets, the group has {in_group}",
                )
            group = None
        elif segment.tag == "ST":
            if group is None:
                raise _at(source, segment, "ST outside a GS group")
            current = Message(
                standard="x12",
                type=segment.element(1),
                version=group.element(8),
                control=segment.element(2),
                sender=isa.element(6).strip(),
                receiver=isa.element(8).strip(),
                interchange=isa.element(13),
            )
            current.segments.append(segment)
        elif segment.tag == "SE":
            if current is None:
                raise _at(source, segment, "SE without ST")
            current.segments.append(segment)
            if segment.element(2) != current.control:
                raise _at(source, segment, "SE02 does not match ST02")
            if segment.element(1) != str(len(current.segments)):
                raise _at(
                    source,
                    segment,
                    f"SE01 counts {segment.element(1)} segments, "
                    f"the transaction set has {len(current.segments)}",
                )
            messages.append(current)
            in_group += 1
            current = None
        elif current is not None:
            current.segments.append(segment)
        else:
            raise _at(source, segment, f"{segment.tag} outside a transaction set")
    if iea.element(1) != str(groups):
        raise _at(source, iea, f"IEA01 counts {iea.element(1)} groups, the interchange has {groups}")


# -- EDIFACT --------------------------------------------------------------------------------------

# UNB syntax identifiers and the character sets they promise (ISO 9735).
_CHARSETS = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "latin-1",
    "UNOD": "iso-8859-2",
    "UNOE": "iso-8859-5",
    "UNOF": "iso-8859-7",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}
# What a character set fault looks like once decoded: U+FFFD (a converter that met bytes it could
# not map), and its UTF-8 bytes read as Latin-1.
_LOST = ("\ufffd", "ï¿½")


def parse_edifact(data: bytes, source: str) -> list[Message]:
    component, element, release, terminator = ":", "+", "?", "'"
    body = data.lstrip()
    skipped = len(data) - len(body)
    if body.startswith(b"UNA"):
        advice = body[3:9].decode("ascii", errors="replace")
        if len(advice) < 6:
            raise EdiError(
                source,
                "UNA service string advice is shorter than 6 characters",
                segment=1,
                tag="UNA",
                offset=skipped,
            )
        component, element, _decimal, release, _reserved, terminator = advice
        rest = body[9:].lstrip()
        skipped += len(body) - len(rest)
        body = rest
    syntax = body[4:8].decode("ascii", errors="replace")
    charset = _CHARSETS.get(syntax)
    if not body.startswith(b"UNB") or charset is None:
        raise EdiError(
            source, f"UNB with a known syntax identifier expected, found {body[:12]!r}", offset=skipped
        )
    text = _decode(body, charset, source, skipped)
    segments = _edifact_segments(text, body, source, skipped, (component, element, release, terminator))
    for segment in segments:
        lost = next((mark for mark in _LOST if any(mark in c for e in segment.elements for c in e)), None)
        if lost is not None:
            raise _at(
                source,
                segment,
                f"character set fault: the interchange declares {syntax} ({charset}) but carries "
                f"{'U+FFFD' if lost == chr(0xFFFD) else 'UTF-8 bytes of U+FFFD'} — characters were lost "
                "before the file reached the hub (e.g. umlauts); ask the sender to resend it in the "
                "declared set",
            )
    return _edifact_envelope(segments, source)


def _edifact_segments(
    text: str, raw: bytes, source: str, base: int, delimiters: tuple[str, str, str, str]
) -> list[Segment]:
    component, element, release, terminator = delimiters
    segments: list[Segment] = []
    elements: list[list[str]] = [[""]]
    start, index, number = 0, 0, 0
    while index < len(text):
        char = text[index]
        if char == release:
            index += 1
            if index >= len(text):
                raise EdiError(
                    source,
                    "release character at the end of the file",
                    segment=number + 1,
                    offset=base + index,
                )
            elements[-1][-1] += text[index]
        elif char == component:
            elements[-1].append("")
        elif char == element:
            elements.append([""])
        elif char == terminator:
            number += 1
            tag = elements[0][0].strip()
            if not (len(tag) == 3 and tag.isalpha() and tag.isupper()):
                raise EdiError(
                    source,
                    f"{tag[:12]!r} is not a segment tag",
                    segment=number,
                    offset=_byte(text, raw, start, base),
                )
            segments.append(Segment(tag, elements[1:], number, _byte(text, raw, start, base)))
            elements, start = [[""]], index + 1
            while start < len(text) and text[start] in "\r\n":
                start += 1
            index = start - 1
        elif char in "\r\n" and elements == [[""]]:
            start = index + 1
        else:
            elements[-1][-1] += char
        index += 1
    if elements != [[""]] and "".join(elements[0]).strip():
        raise EdiError(
            source,
            f"segment without terminator {terminator!r}",
            segment=number + 1,
            offset=_byte(text, raw, start, base),
        )
    return segments


def _byte(text: str, raw: bytes, index: int, base: int) -> int:
    """Byte offset of a character (single-byte character sets map one to one)."""
    return base + (index if len(text) == len(raw) else len(text[:index].encode("utf-8")))


def _edifact_envelope(segments: list[Segment], source: str) -> list[Message]:
    unb, unz = segments[0], segments[-1]
    if unz.tag != "UNZ":
        raise _at(source, unz, "interchange ends without UNZ")
    if unz.element(2) != unb.element(5):
        raise _at(source, unz, f"UNZ02 {unz.element(2)!r} does not match UNB05 {unb.element(5)!r}")
    messages: list[Message] = []
    current: Message | None = None
    for segment in segments[1:-1]:
        if segment.tag == "UNH":
            current = Message(
                standard="edifact",
                type=segment.element(2, 0),
                version=":".join(segment.elements[1][1:4]) if len(segment.elements) > 1 else "",
                control=segment.element(1),
                sender=unb.element(2, 0),
                receiver=unb.element(3, 0),
                interchange=unb.element(5),
            )
        if current is None:
            if segment.tag in ("UNG", "UNE"):
                continue
            raise _at(source, segment, f"{segment.tag} outside a message")
        current.segments.append(segment)
        if segment.tag == "UNT":
            if segment.element(2) != current.control:
                raise _at(source, segment, "UNT02 does not match UNH01")
            if segment.element(1) != str(len(current.segments)):
                raise _at(
                    source,
                    segment,
                    f"UNT01 counts {segment.element(1)} segments, the message has {len(current.segments)}",
                )
            messages.append(current)
            current = None
    if current is not None:
        raise _at(source, unz, f"message {current.control} has no UNT")
    if unz.element(1) != str(len(messages)):
        raise _at(source, unz, f"UNZ01 counts {unz.element(1)} messages, the interchange has {len(messages)}")
    return messages


def _at(source: str, segment: Segment, reason: str) -> EdiError:
    """An error at a segment: its number, tag and byte offset."""
    return EdiError(source, reason, segment=segment.number, tag=segment.tag, offset=segment.offset)


def _same_control(a: str, b: str) -> bool:
    """Control numbers match; numeric ones also with other zero padding (as senders write them)."""
    return a == b or (a.isdigit() and b.isdigit() and int(a) == int(b))


def _decode(data: bytes, charset: str, source: str, base: int = 0) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError as error:
        raise EdiError(
            source,
            f"byte {data[error.start : error.start + 1]!r} is not valid {charset}",
            offset=base + error.start,
        ) from None

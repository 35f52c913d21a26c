"""EDI files: strict X12 and EDIFACT syntax, and documents the mappings read."""

from __future__ import annotations

from adapters.edi.documents import documents
from adapters.edi.syntax import EdiError, Message, Segment, parse_interchanges

__all__ = ["EdiError", "Message", "Segment", "documents", "parse_interchanges"]

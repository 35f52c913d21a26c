"""Mapping engine: declarative, versioned translations from source messages to contracts."""

from hub.mapping.engine import FieldNote, Mapping, MappingError, MappingSet, content_hash, model_to_jsonable
from hub.mapping.samples import SampleResult, as_envelope, check_samples
from hub.mapping.transforms import SourceContext

__all__ = [
    "FieldNote",
    "Mapping",
    "MappingError",
    "MappingSet",
    "SampleResult",
    "SourceContext",
    "as_envelope",
    "check_samples",
    "content_hash",
    "model_to_jsonable",
]

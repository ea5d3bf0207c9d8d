"""The model catalog: its types, the packaged default entries and the rules they imply.

- ``spec``: ``Provider``, ``Endpoint``, ``ModelSpec`` (one ``[[models]]`` entry),
  ``ModelOverride`` and ``resolve_catalog`` (the catalog as one provider serves it).
- ``default``: the packaged catalog (``default.toml``), used when the config file has no
  ``[[models]]``.
- ``rules``: pure checks and estimates against one entry (parameters, inputs, ratio, cost).
"""

from .default import default_catalog, default_catalog_text
from .rules import (
    ENDPOINTS,
    check_inputs,
    closest_ratio,
    durations_text,
    estimate_credits,
    pick_model,
    utf16_length,
    validate_params,
)
from .spec import (
    COMMANDS,
    LABEL_MAX,
    PROVIDERS,
    SEED_MAX,
    SERVICES,
    Endpoint,
    ModelOverride,
    ModelSpec,
    Provider,
    resolve_catalog,
)

__all__ = [
    "COMMANDS",
    "ENDPOINTS",
    "LABEL_MAX",
    "PROVIDERS",
    "SEED_MAX",
    "SERVICES",
    "Endpoint",
    "ModelOverride",
    "ModelSpec",
    "Provider",
    "check_inputs",
    "closest_ratio",
    "default_catalog",
    "default_catalog_text",
    "durations_text",
    "estimate_credits",
    "pick_model",
    "resolve_catalog",
    "utf16_length",
    "validate_params",
]

"""cardkit.records

Citizen records: the model (:class:`CitizenRecord`), the ID-number and expiry rules of the
Vietnamese CCCD, loaders for CSV / JSON / JSON Lines files, and validation that reports every
problem of every record, streaming (:func:`iter_records`, :func:`validate_stream`) so that
memory does not grow with the number of rows.

The names below are loaded on first use (PEP 562): importing one module of the package (the
model, the QR payload: what a checkpoint needs) does not load the loaders, the validation and
the image checks.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cardkit.records.expiry import compute_expiry
    from cardkit.records.idnumber import PROVINCE_CODES, IdNumber
    from cardkit.records.images import ImageChecks
    from cardkit.records.load import RawRecord, iter_records, load_records
    from cardkit.records.model import NO_EXPIRY_TEXT, CitizenRecord, Sex
    from cardkit.records.validate import (
        Problem,
        Validated,
        validate,
        validate_all,
        validate_stream,
    )

__all__ = [
    "NO_EXPIRY_TEXT",
    "PROVINCE_CODES",
    "CitizenRecord",
    "IdNumber",
    "ImageChecks",
    "Problem",
    "RawRecord",
    "Sex",
    "Validated",
    "compute_expiry",
    "iter_records",
    "load_records",
    "validate",
    "validate_all",
    "validate_stream",
]

#: Where each name lives (imported on first access).
_EXPORTS = {
    "compute_expiry": "expiry",
    "PROVINCE_CODES": "idnumber",
    "IdNumber": "idnumber",
    "ImageChecks": "images",
    "RawRecord": "load",
    "iter_records": "load",
    "load_records": "load",
    "NO_EXPIRY_TEXT": "model",
    "CitizenRecord": "model",
    "Sex": "model",
    "Problem": "validate",
    "Validated": "validate",
    "validate": "validate",
    "validate_all": "validate",
    "validate_stream": "validate",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    if name != "validate":  # a property of the package (_Package, below)
        globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """``validate`` is the function, as when this package imported it eagerly: importing the
    submodule of that name (which sets it as an attribute here) must not replace it."""

    @property
    def validate(self) -> Any:
        return __getattr__("validate")

    @validate.setter
    def validate(self, value: Any) -> None:
        pass  # the submodule cardkit.records.validate, set by the import system


sys.modules[__name__].__class__ = _Package

"""cardkit.records

Citizen records: the model (:class:`CitizenRecord`), the ID-number and expiry rules of the
Vietnamese CCCD, loaders for CSV / JSON / JSON Lines files, and validation that reports every
problem of every record, streaming (:func:`iter_records`, :func:`validate_stream`) so that
memory does not grow with the number of rows.
"""

from cardkit.records.expiry import compute_expiry
from cardkit.records.idnumber import PROVINCE_CODES, IdNumber
from cardkit.records.images import ImageChecks
from cardkit.records.load import RawRecord, iter_records, load_records
from cardkit.records.model import NO_EXPIRY_TEXT, CitizenRecord, Sex
from cardkit.records.validate import Problem, Validated, validate, validate_all, validate_stream

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

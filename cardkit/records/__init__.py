"""cardkit.records

Citizen records: the model (:class:`CitizenRecord`), the ID-number and expiry rules of the
Vietnamese CCCD, loaders for CSV / JSON / JSON Lines files, and validation that reports every
problem of every record.
"""

from cardkit.records.expiry import compute_expiry
from cardkit.records.idnumber import PROVINCE_CODES, IdNumber
from cardkit.records.load import RawRecord, load_records
from cardkit.records.model import NO_EXPIRY_TEXT, CitizenRecord, Sex
from cardkit.records.validate import Problem, Validated, validate, validate_all

__all__ = [
    "NO_EXPIRY_TEXT",
    "PROVINCE_CODES",
    "CitizenRecord",
    "IdNumber",
    "Problem",
    "RawRecord",
    "Sex",
    "Validated",
    "compute_expiry",
    "load_records",
    "validate",
    "validate_all",
]

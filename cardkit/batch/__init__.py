"""Production batches: a journal drives every record through prepare → personalize → read-back
check → print exactly once, across crashes and several stations (see :mod:`cardkit.batch.runner`).
"""

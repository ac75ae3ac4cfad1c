"""cardkit: personalize and verify ICAO 9303 chip identity cards.

The package is layered (see docs/ARCHITECTURE.md): ``encoding`` → ``records`` → ``lds`` →
``pki`` → ``protocol`` → ``transport`` → ``applet`` → ``emulator`` → ``services`` → ``cli``.
A layer only imports the layers before it.
"""

from cardkit.errors import CardkitError

__all__ = ["CardkitError", "__version__"]
__version__ = "0.1.0"

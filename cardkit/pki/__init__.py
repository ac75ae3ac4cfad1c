"""The state PKI of ICAO 9303-12: CSCA, Document Signers, CRLs, master lists, key stores, EF.SOD."""

"""ICAO 9303-11 protocols as pure state machines over a `send` callable: SM, BAC, PACE, CA, AA."""

"""Sealing a capture: WARC written and hashed, stored, catalogued, recorded in the custody log."""

"""Derived data: what a sealed capture shows (identifiers, photo hashes), each finding pointing
to the record it came from. Never written into a WARC; kept in the catalog and, in a bundle,
in files labelled derived."""

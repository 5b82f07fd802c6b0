"""WARC files: writing a capture with SHA-256 digests, reading records back, revisit records."""

"""One page in the browser: record its exchanges, settle it, and turn it into a Capture."""

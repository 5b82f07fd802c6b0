"""Where sealed files live: a local folder, or S3 under Object Lock; uploads and store checks."""

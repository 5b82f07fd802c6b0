"""The bundle for a court file: export, its layout and report, signing, timestamps, verify."""

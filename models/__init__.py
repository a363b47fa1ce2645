"""Model manifest and model-file handling (lookup, sha256 and shape verification)."""

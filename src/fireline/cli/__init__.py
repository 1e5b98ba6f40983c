"""The `fireline` command line."""

"""The browser console: a small single page over the same HTTP API the CLI uses."""

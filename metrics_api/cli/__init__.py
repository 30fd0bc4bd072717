"""The command line: `serve`, `queries check|render`, settings from flags, environment and a config file."""

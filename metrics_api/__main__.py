"""`python -m metrics_api`: the command line (metrics_api.cli.main)."""
import sys

from metrics_api.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

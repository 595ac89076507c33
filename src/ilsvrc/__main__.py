"""`python -m ilsvrc ...` is the same as the `ilsvrc` command."""
import sys

from ilsvrc.cli import main

sys.exit(main())

import sys

from pinsandbox.cli import main

sys.exit(main())

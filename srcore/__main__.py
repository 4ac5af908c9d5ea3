import sys

from srcore.cli import main

sys.exit(main())

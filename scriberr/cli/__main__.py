import sys

from scriberr.cli import main

sys.exit(main())

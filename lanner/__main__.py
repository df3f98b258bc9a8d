from lanner.cli import main

raise SystemExit(main())

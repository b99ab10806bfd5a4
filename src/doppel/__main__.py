from doppel.cli import main

raise SystemExit(main())

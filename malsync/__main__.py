from malsync.cli import main

raise SystemExit(main())

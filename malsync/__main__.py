from malsync.cli.main import main

raise SystemExit(main())

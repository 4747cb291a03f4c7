from hookline.ops.cli import main

raise SystemExit(main())

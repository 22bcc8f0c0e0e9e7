"""The commands: one module per group, each command its options, one library call and
printing. `rnncli.cli` builds the app and imports a module only when its command runs."""

"""Pattern sets of the `fuse-ops` pass, one module per kind of fusion."""

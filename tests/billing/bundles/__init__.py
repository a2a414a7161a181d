"""Case bundle tests; a package so helpers import as `.name` without clashing with other folders."""

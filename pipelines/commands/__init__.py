"""Command groups of the `medcurate` CLI, one module each; importing a module registers it."""

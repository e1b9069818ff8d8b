"""Change detection on in-memory stacks: valid-observation masks, the per-pixel baseline, the
change kernel, clearing objects, their stable identity and observation gaps."""

"""Attacks from inside real containers, one module per escape class; each test checks the host object
it targets and has a control in the same run proving that it can fail."""

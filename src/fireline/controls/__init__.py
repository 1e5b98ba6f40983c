"""The containment control plane: controls, their versioned state, playbooks, propagation."""

"""rnncli inspect: see inside a network."""

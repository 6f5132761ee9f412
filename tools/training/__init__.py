"""Training the reader: examples from public data, the training loop, the command."""

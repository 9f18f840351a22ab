"""One module per tab of the explorer, each with a render(...) function."""

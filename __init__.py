"""kiln: a quantization compiler for NPUs."""

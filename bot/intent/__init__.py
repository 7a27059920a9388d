"""Intent detection: our own taps, then AI providers behind breakers, then keywords."""

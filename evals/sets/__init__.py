"""Set metrics: embedding backends, their cache, and the Fréchet audio distance."""

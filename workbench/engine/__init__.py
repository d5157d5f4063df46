"""The engine: typed requests, pipeline arguments, splicing, LoRA adapters, model loading and the tiny random
pipeline. Imports only ``workbench.core``; it returns results and never saves them."""

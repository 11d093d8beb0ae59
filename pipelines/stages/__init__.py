"""Stage functions: each turns inputs into a stage folder through pipelines.runner."""

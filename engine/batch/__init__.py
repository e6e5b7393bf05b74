"""The bounded-memory runtime: spill files, sorted runs and worker processes for inputs larger than memory."""

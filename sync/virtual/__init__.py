"""The virtual plant: an OPC UA server (`server`) with a job order receiver (`jobs`), driven by the
project's simulator (`simfloor`) or a small stand-alone floor model (`floor`)."""

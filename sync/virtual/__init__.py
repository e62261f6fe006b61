"""The virtual plant: an OPC UA server (`server`) with a job order receiver (the contract in
`sync.joborders`), driven by the project's simulator (`simfloor`)."""

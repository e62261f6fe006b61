"""Live sync over OPC UA: the sync client (`sync.client`), the job-order contract and its client
(`sync.joborders`), the dispatch service (`sync.dispatch`), and the virtual plant
(`sync.virtual`). See docs/sync.md.

    sync.tags      the plant's tag map as tags; node reference parsing
    sync.tracker   values -> live state, raw-value rows, actual events (no IO)
    sync.sink      the history port (Protocol), batching, an in-memory sink
    sync.security  policy/mode, certificates, credentials
    sync.client    SyncClient (asyncua, subscriptions, reconnect)
    sync.joborders Job, JobState, Status, JobBook, job_orders, JobOrderClient (the wire contract)
    sync.dispatch  DispatchService: verdict lookup by hashes -> gate -> send -> record
    sync.virtual   VirtualPlant server with its job order receiver, the simulator-driven floor
"""

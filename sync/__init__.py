"""Live sync over OPC UA: the sync client (`sync.client`), the dispatch gate and sender
(`sync.dispatch`), and the virtual plant (`sync.virtual`). See docs/sync.md.

    sync.tags      the plant's tag map as tags; node reference parsing
    sync.tracker   values -> live state, raw-value rows, actual events (no IO)
    sync.sink      the history port (Protocol), batching, an in-memory sink
    sync.security  policy/mode, certificates, credentials
    sync.client    SyncClient (asyncua, subscriptions, reconnect)
    sync.dispatch  check_dispatchable, Dispatcher, load_verdict
    sync.virtual   VirtualPlant server, job order receiver, floor models
"""

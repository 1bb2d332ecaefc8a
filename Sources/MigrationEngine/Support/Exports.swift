// The engine's users see the client's types (connections, URLs, errors) through the engine.
@_exported import PGClient

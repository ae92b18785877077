"""The UnrealCV wire protocol (framing, message ids, greetings, error replies), shared by the client (env/)
and the embedded server (world/). A leaf package: it imports nothing else from embrace_bench."""

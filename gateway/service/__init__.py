"""The gateway's use cases, one module per family, whoever asks (a gRPC servicer, the `permitgw` command).

A use case takes plain values and domain objects (the store port, an IdNumber, settings, today) and returns
domain results; it never knows about transport. The servicers in gateway/server/ admit a call through the gate,
call a use case and translate its result into their protobuf answer.
"""

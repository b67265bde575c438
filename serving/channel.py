"""What a client can check before importing TensorFlow (which the serving protos pull in):
whether anything answers gRPC at a target, in about a second when nothing does."""

from __future__ import annotations

import grpc


class ServerUnreachable(ConnectionError):
    """No gRPC server answers at the target."""


def check_reachable(target: str, timeout: float = 1.5) -> None:
    """Returns once a gRPC connection to `target` is ready.

    Raises:
      ServerUnreachable: none within `timeout` seconds, with the command that starts one.
    """
    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        port = target.rsplit(":", 1)[-1]
        raise ServerUnreachable(
            f"no gRPC server answers at {target} (waited {timeout:g} s); start one with "
            f"`recsys serve --port {port}`"
        ) from None
    finally:
        channel.close()

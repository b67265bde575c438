"""Client channels without TensorFlow (which the serving protos pull in): replicas behind one
target, and whether anything answers gRPC there, in about a second when nothing does."""

from __future__ import annotations

import socket

import grpc


def channel_target(target: str) -> tuple[str, list[tuple[str, str]]]:
    """(gRPC target, channel options) for a server or several replicas.

    `host:port` is one server. `host1:port,host2:port` are replicas: their addresses are
    resolved once and requests go round robin over those that are up. `dns:///name:port`
    (e.g. a Kubernetes headless Service) is resolved by gRPC, which follows DNS changes, also
    round robin.
    """
    round_robin = [("grpc.lb_policy_name", "round_robin")]
    if target.startswith("dns:"):
        return target, round_robin
    if "," not in target:
        return target, []
    addresses = []
    for address in target.split(","):
        host, port = address.strip().rsplit(":", 1)
        addresses.append(f"{socket.gethostbyname(host.strip('[]'))}:{port}")
    return "ipv4:" + ",".join(addresses), round_robin


class ServerUnreachable(ConnectionError):
    """No gRPC server answers at the target."""


def check_reachable(target: str, timeout: float = 1.5) -> None:
    """Returns once a gRPC connection to `target` is ready.

    Raises:
      ServerUnreachable: none within `timeout` seconds, with the command that starts one.
    """
    address, options = channel_target(target)
    channel = grpc.insecure_channel(address, options=options)
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

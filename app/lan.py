"""This computer's address on the home network, for `vivant serve --host 0.0.0.0` to print."""

from __future__ import annotations

import ipaddress
import socket

# Any private address will do: connect() on a UDP socket only asks the kernel which route (and so which
# of our addresses) it would use. Nothing is sent, and nothing needs to answer.
_PRIVATE_PROBE = ("10.255.255.255", 9)


def lan_address() -> str | None:
    """The IPv4 address other devices on the network reach this computer at, or None when it has none
    (no network, or loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PRIVATE_PROBE)
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    parsed = ipaddress.ip_address(address)
    return None if parsed.is_loopback or parsed.is_unspecified else address

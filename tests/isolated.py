# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Run a Python module with no network but loopback, when the machine allows it.

    python -m tests.isolated -m pytest tests

As root on Linux, the process moves into a new network namespace whose only interface is loopback (brought up
here, no external tool needed), so any attempt by az, the extension or a test to reach anything but 127.0.0.1 fails
at once instead of leaking. Elsewhere the module runs as is, with a note. AMLK8S_NO_NETNS=1 turns isolation off.
"""

import ctypes
import fcntl
import os
import runpy
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def isolate():
    if os.environ.get('AMLK8S_NO_NETNS'):
        return 'off (AMLK8S_NO_NETNS is set)'
    if not sys.platform.startswith('linux') or os.geteuid() != 0:
        return 'unavailable (needs root on Linux)'
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return 'unavailable (unshare: {})'.format(os.strerror(ctypes.get_errno()))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack('16sH', b'lo', 0)
        flags = struct.unpack('16sH', fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack('16sH', b'lo', flags | IFF_UP))
    os.environ['AMLK8S_NETNS'] = '1'
    return 'on: loopback only'


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0] != '-m':
        sys.exit('usage: python -m tests.isolated -m <module> [args...]')
    print('network isolation: ' + isolate(), file=sys.stderr, flush=True)
    sys.argv = [args[1]] + args[2:]
    runpy.run_module(args[1], run_name='__main__', alter_sys=True)


if __name__ == '__main__':
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The latency of snapshot-take, as userspace sees it: the kernel's YNL
client's do('snapshot-take') call, timed around the call alone.

For each sample: snapshot-create of the given (tracked) devices, one
storage range over the whole storage device, then the timed take, then
snapshot-destroy.  Prints one line per sample: the take's milliseconds.

usage: take-latency.py --ynl DIR --spec SPEC --storage DEV --samples N DEV...
"""
import argparse
import os
import stat
import sys
import time
import uuid


def sectors(path):
    """Capacity of a block device in 512-byte sectors."""
    st = os.stat(path)
    if not stat.S_ISBLK(st.st_mode):
        raise SystemExit(f'{path} is not a block device')
    with open(f'/sys/dev/block/{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}/size',
              encoding='ascii') as f:
        return int(f.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--ynl', required=True, help='tools/net/ynl of a kernel tree')
    parser.add_argument('--spec', required=True)
    parser.add_argument('--storage', required=True)
    parser.add_argument('--samples', type=int, default=9)
    parser.add_argument('devices', nargs='+', help='tracked devices, by path')
    args = parser.parse_args()

    sys.path.insert(0, args.ynl)
    from lib import YnlFamily  # pylint: disable=import-outside-toplevel

    ynl = YnlFamily(args.spec, schema='')
    storage = {'dev-path': args.storage, 'start': 0, 'count': sectors(args.storage)}
    for _ in range(args.samples):
        created = ynl.do('snapshot-create',
                         {'device': [{'dev-path': d} for d in args.devices],
                          'chunk-size': 65536})
        snap_id = {'snapshot-id': uuid.UUID(str(created['snapshot-id'])).bytes}
        try:
            ynl.do('snapshot-append-storage', {**snap_id, 'storage-range': [storage]})
            start = time.perf_counter()
            ynl.do('snapshot-take', snap_id)
            took = time.perf_counter() - start
        finally:
            ynl.do('snapshot-destroy', snap_id)
        print(f'{took * 1000:.1f}', flush=True)
        time.sleep(0.5)


if __name__ == '__main__':
    main()

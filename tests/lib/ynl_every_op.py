#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel's generic YNL library drives every op of the live blksnap family.

One process, two YnlFamily objects built from the spec alone: one sends the
requests, the other is subscribed to the "events" group and receives the
notifications (one object for both breaks in 6.12's library when an event
arrives before a reply).  On one untracked scratch disk:

  version; every op that names a device refuses an untracked one (ENOENT,
  extack "device is not tracked"); tracker-attach by path with 4 KiB blocks;
  tracker-get do and dump; a direct write of one block, then cbt-map-read
  of the whole map and of a slice; cbt-mark-dirty with two ranges;
  cbt-reset; tracker-detach; and on the events group tracker-add-ntf,
  tracker-change-ntf and tracker-del-ntf, with their attributes, and
  nothing else.  Last, it checks that every op and mode of the spec and
  every notification was used.

usage: ynl_every_op.py --ynl DIR --spec SPEC --disk DEV --version X.Y.Z
"""
import argparse
import errno
import mmap
import os
import select
import sys
import time
import uuid

BLOCK_SIZE = 4096
SECTOR = 512
NOT_TRACKED = 'device is not tracked'


class Failure(Exception):
    pass


def check(what, expected, actual):
    if expected != actual:
        raise Failure(f'{what}\n  expected: {expected!r}\n  actual:   {actual!r}')
    print(f'ok: {what}: {actual!r}' if len(repr(actual)) < 120 else f'ok: {what}')


def step(text):
    print(f'--- {text}', flush=True)


class Client:
    """The request side: a YnlFamily, and a record of the ops it ran."""

    def __init__(self, ynl_family_class, nl_error_class, spec):
        self.ynl = ynl_family_class(spec, schema='')
        self.nl_error = nl_error_class
        self.used = set()

    def do(self, op, attrs):
        self.used.add((op, 'do'))
        return self.ynl.do(op, attrs)

    def dump(self, op, attrs):
        self.used.add((op, 'dump'))
        return self.ynl.dump(op, attrs)

    def expect_error(self, mode, op, attrs, err, text):
        """The op fails with errno err and an extack message holding text."""
        try:
            getattr(self, mode)(op, attrs)
        except self.nl_error as e:
            extack = e.nl_msg.extack or {}
            print(f'{op} {mode} {attrs}: {os.strerror(e.error)}, extack {extack}')
            check(f'{op} {mode}: errno', errno.errorcode[err],
                  errno.errorcode.get(e.error, e.error))
            if text not in extack.get('msg', ''):
                raise Failure(f'{op} {mode}: extack message {extack.get("msg")!r} '
                              f'does not say {text!r}')
            return
        raise Failure(f'{op} {mode} {attrs}: succeeded, expected {errno.errorcode[err]}')


class Listener:
    """The notification side: a YnlFamily subscribed to the events group."""

    def __init__(self, ynl_family_class, spec):
        self.ynl = ynl_family_class(spec, schema='')
        self.ynl.ntf_subscribe('events')
        self.seen = set()

    def next(self, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.ynl.async_msg_queue:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f'no notification within {timeout} s')
            select.select([self.ynl.sock], [], [], left)
            self.ynl.check_ntf()
        ntf = self.ynl.async_msg_queue.pop(0)
        print(f"notification: {ntf['name']} {ntf['msg']}")
        self.seen.add(ntf['name'])
        return ntf

    def expect(self, name, msg):
        ntf = self.next()
        check('notification', name, ntf['name'])
        check(f'{name} attributes', msg, ntf['msg'])

    def expect_none(self, wait=1.0):
        select.select([self.ynl.sock], [], [], wait)
        self.ynl.check_ntf()
        check('notifications left over', [], self.ynl.async_msg_queue)


def generation_bytes(value):
    """The 16 bytes of a generation id (the spec's display-hint: uuid).
    The library turns the attribute into a UUID, which takes exactly 16
    bytes (uuid.UUID(bytes=...) refuses any other length); check anyway."""
    raw = uuid.UUID(str(value)).bytes
    check('generation-id length', 16, len(raw))
    if raw == bytes(16):
        raise Failure('generation-id is all zeros')
    return raw


def read_map(client, dev, **slice_attrs):
    """cbt-map-read dump: (the map bytes, the messages' generation ids, the
    number of messages); the messages' slices must follow each other."""
    msgs = client.dump('cbt-map-read', {**dev, **slice_attrs})
    if not msgs:
        raise Failure('cbt-map-read: no messages')
    data = b''
    start = slice_attrs.get('map-offset', 0)
    for msg in sorted(msgs, key=lambda m: m['map-offset']):
        if sorted(msg) != ['generation-id', 'map-data', 'map-offset']:
            raise Failure(f'cbt-map-read message attributes: {sorted(msg)}')
        if msg['map-offset'] != start + len(data):
            raise Failure(f"cbt-map-read: slice at {msg['map-offset']}, expected "
                          f'{start + len(data)}')
        data += msg['map-data']
    return data, {m['generation-id'] for m in msgs}, len(msgs)


def changed(data, offset=0):
    """{block: value} of the non-zero bytes of a map slice."""
    return {offset + i: v for i, v in enumerate(data) if v}


def write_block(disk, block):
    """One direct write of a 4 KiB block (an aligned buffer from mmap)."""
    buf = mmap.mmap(-1, BLOCK_SIZE)
    buf.write(b'\xa5' * BLOCK_SIZE)
    fd = os.open(disk, os.O_RDWR | os.O_DIRECT)
    try:
        check(f'pwrite of block {block}', BLOCK_SIZE,
              os.pwrite(fd, buf, block * BLOCK_SIZE))
    finally:
        os.close(fd)
        buf.close()


def run(client, listener, args):
    disk = args.disk
    rdev = os.stat(disk).st_rdev
    major, minor = os.major(rdev), os.minor(rdev)
    by_num = {'dev-major': major, 'dev-minor': minor}
    by_path = {'dev-path': disk}
    with open(f'/sys/dev/block/{major}:{minor}/size', encoding='ascii') as f:
        capacity = int(f.read())
    block_count = -(-capacity * SECTOR // BLOCK_SIZE)
    print(f'disk {disk}: {major}:{minor}, {capacity} sectors, {block_count} blocks of 4 KiB')

    step('version')
    major_v, minor_v, patch_v = (int(x) for x in args.version.split('.'))
    check('version', {'version-major': major_v, 'version-minor': minor_v,
                      'version-patch': patch_v}, client.do('version', {}))

    step('every op that names a device refuses an untracked one')
    one_range = {'range': [{'start': 0, 'count': 8}]}
    refusals = []
    for mode, op, attrs in (
            ('do', 'tracker-get', by_num),
            ('do', 'tracker-detach', by_path),
            ('do', 'cbt-reset', by_num),
            ('do', 'cbt-mark-dirty', {**by_path, **one_range}),
            ('dump', 'cbt-map-read', by_num)):
        try:
            client.expect_error(mode, op, attrs, errno.ENOENT, NOT_TRACKED)
        except Failure as e:  # every row is checked; all failures are told
            refusals.append(str(e))
    # A wrong refusal is told at the end, after the other ops have run.
    check('tracker-get dump before attach', [], client.dump('tracker-get', {}))

    step('tracker-attach by path with 4 KiB blocks')
    info = client.do('tracker-attach', {**by_path, 'block-size': BLOCK_SIZE})
    print(f'reply: {info}')
    gen1 = generation_bytes(info.get('generation-id'))
    check('tracker-attach reply', {
        'dev-major': major, 'dev-minor': minor, 'block-size': BLOCK_SIZE,
        'block-count': block_count, 'capacity': capacity,
        'generation-id': info.get('generation-id'), 'snap-number': 1}, info)
    listener.expect('tracker-add-ntf', info)
    client.expect_error('do', 'tracker-attach', by_num, errno.EEXIST, 'already tracked')

    step('tracker-get do (by number) and dump')
    check('tracker-get do', info, client.do('tracker-get', by_num))
    check('tracker-get do by path', info, client.do('tracker-get', by_path))
    check('tracker-get dump', [info], client.dump('tracker-get', {}))

    step('a direct write of one block marks exactly that block')
    written = block_count // 2 + 3
    write_block(disk, written)
    data, gens, nmsgs = read_map(client, by_num)
    print(f'cbt-map-read: {len(data)} bytes in {nmsgs} messages')
    check('map length', block_count, len(data))
    check('changed blocks', {written: 1}, changed(data))
    check('generation ids of all map messages', {info['generation-id']}, gens)

    step('a slice of the map: map-offset and map-length')
    data, gens, _ = read_map(client, by_path, **{'map-offset': written - 2, 'map-length': 5})
    check('slice', bytes([0, 0, 1, 0, 0]), data)
    check('generation id of the slice', {info['generation-id']}, gens)
    data, _, _ = read_map(client, by_num, **{'map-offset': block_count - 1})
    check('last block, to the end of the map', b'\x00', data)

    step('cbt-mark-dirty with two ranges in one request')
    sectors_per_block = BLOCK_SIZE // SECTOR
    b1, b2 = 100, block_count - 10
    ranges = [
        {'start': b1 * sectors_per_block, 'count': sectors_per_block},
        # half of block b2 and half of the next one
        {'start': b2 * sectors_per_block + sectors_per_block // 2,
         'count': sectors_per_block},
    ]
    check('cbt-mark-dirty reply', None,
          client.do('cbt-mark-dirty', {**by_path, 'range': ranges}))
    data, gens, _ = read_map(client, by_num)
    check('changed blocks', {written: 1, b1: 1, b2: 1, b2 + 1: 1}, changed(data))
    check('generation id unchanged', {info['generation-id']}, gens)

    step('cbt-reset: a new generation, a clean map, snap number 1')
    reset = client.do('cbt-reset', by_num)
    print(f'reply: {reset}')
    gen2 = generation_bytes(reset.get('generation-id'))
    if gen2 == gen1:
        raise Failure('cbt-reset kept the generation id')
    check('cbt-reset reply', {**info, 'generation-id': reset.get('generation-id')}, reset)
    listener.expect('tracker-change-ntf', reset)
    data, gens, _ = read_map(client, by_path)
    check('changed blocks after reset', {}, changed(data))
    check('generation ids after reset', {reset['generation-id']}, gens)
    check('tracker-get after reset', reset, client.do('tracker-get', by_num))

    step('tracker-detach')
    check('tracker-detach reply', None, client.do('tracker-detach', by_path))
    listener.expect('tracker-del-ntf', by_num)
    check('tracker-get dump after detach', [], client.dump('tracker-get', {}))
    client.expect_error('do', 'tracker-get', by_path, errno.ENOENT, NOT_TRACKED)
    listener.expect_none()

    step('every op, mode and notification of the spec was used')
    spec_modes = {(name, mode) for name, op in client.ynl.ops.items()
                  for mode in ('do', 'dump') if mode in op.yaml}
    check('ops and modes not used', [], sorted(spec_modes - client.used))
    check('notifications not seen', [], sorted(set(client.ynl.ntfs) - listener.seen))

    if refusals:
        raise Failure('refusals of an untracked device:\n  ' + '\n  '.join(refusals))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ynl', required=True, help='tools/net/ynl of a kernel tree')
    parser.add_argument('--spec', required=True)
    parser.add_argument('--disk', required=True, help='an untracked scratch disk')
    parser.add_argument('--version', required=True, help='the module version, X.Y.Z')
    args = parser.parse_args()

    sys.stdout.reconfigure(line_buffering=True)
    sys.path.insert(0, args.ynl)
    from lib import NlError, YnlFamily  # pylint: disable=import-outside-toplevel

    client = Client(YnlFamily, NlError, args.spec)
    listener = Listener(YnlFamily, args.spec)
    try:
        run(client, listener, args)
    except (Failure, NlError) as e:
        print(f'FAIL: {e}', file=sys.stderr)
        # Leave nothing tracked, so that the module can go.
        try:
            client.ynl.do('tracker-detach', {'dev-path': args.disk})
        except NlError:
            pass
        return 1
    print('every op of the family worked through YNL')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel's generic YNL library drives every op of the live blksnap family.

One process, two YnlFamily objects built from the spec alone: one sends the
requests, the other is subscribed to the "events" group and receives the
notifications (one object for both breaks in 6.12's library when an event
arrives before a reply).  On one untracked scratch disk, with a second
one as difference storage:

  version; every op that names a device refuses an untracked one (ENOENT,
  extack "device is not tracked"), every op that names a snapshot an
  unknown one (ENOENT, "no such snapshot"); tracker-attach by path with
  4 KiB blocks; tracker-get do and dump; a direct write of one block, then
  cbt-map-read of the whole map and of a slice; cbt-mark-dirty with two
  ranges; cbt-reset.

  Then a snapshot of the disk: snapshot-create (state created, no
  storage), snapshot-append-storage with a range of the second disk,
  snapshot-get do and dump, snapshot-take (state taken, the device's image,
  frozen snap number and generation); the image reads a block written
  before the take as it was, also after the block is overwritten on the
  disk; cbt-map-read with snapshot-id reads the frozen map, without it the
  live one (the take advanced the snap number); a second take fails with
  EALREADY, destroy with EBUSY while the image is open; snapshot-destroy.

  Then a snapshot with two chunks of storage and a low-free threshold
  above that: the take sends snapshot-low-space-ntf, and so does the
  append after it that leaves the storage still low;
  overwriting more than two chunks corrupts it (ENOSPC, the device in
  snapshot-corrupted-ntf, state corrupted, its image fails reads with EIO,
  the tracker starts a new generation); snapshot-destroy; tracker-detach.

  The events group carries exactly the tracker and snapshot add, change
  and del notifications, the low-space and corrupted ones, with their
  attributes, in order, and nothing else.  Last, it checks that every op
  and mode of the spec and every notification was used.

usage: ynl_every_op.py --ynl DIR --spec SPEC --disk DEV --storage DEV
                       --version X.Y.Z
"""
import argparse
import errno
import mmap
import os
import re
import select
import sys
import time
import uuid

BLOCK_SIZE = 4096
SECTOR = 512
NOT_TRACKED = 'device is not tracked'
NO_SNAPSHOT = 'no such snapshot'
PARAMETERS = '/sys/module/blksnap/parameters'


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


def generation_bytes(value, what='generation-id'):
    """The 16 bytes of a generation id or a snapshot id (the spec's
    display-hint: uuid).  The library turns the attribute into a UUID,
    which takes exactly 16 bytes (uuid.UUID(bytes=...) refuses any other
    length); check anyway."""
    raw = uuid.UUID(str(value)).bytes
    check(f'{what} length', 16, len(raw))
    if raw == bytes(16):
        raise Failure(f'{what} is all zeros')
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


def write_block(disk, block, fill=0xa5, count=1):
    """One direct write of count 4 KiB blocks of the byte fill (an aligned
    buffer from mmap)."""
    size = count * BLOCK_SIZE
    buf = mmap.mmap(-1, size)
    buf.write(bytes([fill]) * size)
    fd = os.open(disk, os.O_RDWR | os.O_DIRECT)
    try:
        check(f'pwrite of {count} block(s) from {block} on {disk}', size,
              os.pwrite(fd, buf, block * BLOCK_SIZE))
    finally:
        os.close(fd)
        buf.close()


def read_block(fd, block):
    """One direct read of a 4 KiB block from fd, opened with O_DIRECT."""
    buf = mmap.mmap(-1, BLOCK_SIZE)
    try:
        got = os.preadv(fd, [buf], block * BLOCK_SIZE)
        if got != BLOCK_SIZE:
            raise Failure(f'read of block {block}: {got} bytes')
        return bytes(buf)
    finally:
        buf.close()


def read_device_block(path, block):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        return read_block(fd, block)
    finally:
        os.close(fd)


def parameter(name):
    with open(f'{PARAMETERS}/{name}', encoding='ascii') as f:
        return int(f.read())


def snapshot_info(snap_id, state, chunk_size, low_free, total, used, error, devices):
    """A snapshot as snapshot-get (and create, append, take) replies."""
    return {'snapshot-id': snap_id, 'state': state, 'chunk-size': chunk_size,
            'low-free-sectors': low_free, 'storage-total': total,
            'storage-used': used, 'error': error, 'device': devices}


def check_image(device, capacity):
    """The image of a taken snapshot's device: its name, a block device of
    that number, the size of the original.  Returns /dev/<image-name>."""
    name = device.get('image-name', '')
    if not re.fullmatch(r'blksnap-image[0-9]+', name):
        raise Failure(f'image-name {name!r} is not blksnap-image<N>')
    path = f'/dev/{name}'
    rdev = os.stat(path).st_rdev
    check(f'{path}: number', (device.get('image-major'), device.get('image-minor')),
          (os.major(rdev), os.minor(rdev)))
    with open(f'/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}/size',
              encoding='ascii') as f:
        check(f'{path}: sectors', capacity, int(f.read()))
    return path


def snapshot_taken_and_read(client, listener, d, tracker):
    """A snapshot of the tracked disk d, from create to destroy; tracker is
    the disk's tracker-get now (a clean map).  Returns its tracker-get after."""
    chunk_size = parameter('chunk_size')  # the default of snapshot-create
    chunk_sectors = chunk_size // SECTOR
    chunk_blocks = chunk_size // BLOCK_SIZE
    low_free = 1024  # far under the storage's free space: no low-space event
    storage_sectors = 16384
    before = d.block_count // 4 + 1  # written before the take
    after = before + 2 * chunk_blocks  # written after it, in another chunk
    device = {'dev-major': d.major, 'dev-minor': d.minor, 'error': 0}

    step('snapshot-create of the tracked disk: a device nest with dev-path')
    created = client.do('snapshot-create', {'device': [d.by_path],
                                            'low-free-sectors': low_free})
    print(f'reply: {created}')
    snap_id = created.get('snapshot-id')
    id_attr = {'snapshot-id': generation_bytes(snap_id, 'snapshot-id')}
    check('snapshot-create reply',
          snapshot_info(snap_id, 'created', chunk_size, low_free, 0, 0, 0, [device]),
          created)
    listener.expect('snapshot-add-ntf', created)
    client.expect_error('do', 'snapshot-create', {'device': [d.by_num]}, errno.EBUSY,
                        'already in a snapshot')

    step('before the take: nothing to take with, no frozen map')
    client.expect_error('do', 'snapshot-take', id_attr, errno.ENOSPC,
                        'no difference storage')
    client.expect_error('dump', 'cbt-map-read', {**d.by_num, **id_attr}, errno.ENODATA,
                        'not taken yet')

    step('snapshot-append-storage: a storage-range nest on the storage disk')
    appended = client.do('snapshot-append-storage', {**id_attr, 'storage-range': [
        {'dev-path': d.storage, 'start': 0, 'count': storage_sectors}]})
    print(f'reply: {appended}')
    check('snapshot-append-storage reply', {**created, 'storage-total': storage_sectors},
          appended)
    listener.expect('snapshot-change-ntf', appended)
    client.expect_error('do', 'snapshot-append-storage', {**id_attr, 'storage-range': [
        {'dev-path': d.storage, 'start': storage_sectors - chunk_sectors,
         'count': 2 * chunk_sectors}]}, errno.EBUSY, 'overlaps storage in use')

    step('snapshot-get do and dump')
    check('snapshot-get do', appended, client.do('snapshot-get', id_attr))
    check('snapshot-get dump', [appended], client.dump('snapshot-get', {}))
    check('snapshot-get dump naming it', [appended], client.dump('snapshot-get', id_attr))

    step(f'snapshot-take, after a direct write of block {before}')
    write_block(d.path, before, 0xa5)
    original = read_device_block(d.path, before)
    original_after = read_device_block(d.path, after)
    taken = client.do('snapshot-take', id_attr)
    print(f'reply: {taken}')
    image_dev = (taken.get('device') or [{}])[0]
    image = check_image(image_dev, d.capacity)
    frozen = {**device, 'image-major': image_dev.get('image-major'),
              'image-minor': image_dev.get('image-minor'),
              'image-name': image_dev.get('image-name'),
              'snap-number': tracker['snap-number'],
              'generation-id': tracker['generation-id']}
    check('snapshot-take reply', {**appended, 'state': 'taken', 'device': [frozen]}, taken)
    advanced = {**tracker, 'snap-number': tracker['snap-number'] + 1}
    listener.expect('tracker-change-ntf', advanced)
    listener.expect('snapshot-change-ntf', taken)
    check('tracker-get after the take', advanced, client.do('tracker-get', d.by_num))
    client.expect_error('do', 'snapshot-take', id_attr, errno.EALREADY, 'already taken')

    step(f'{image} reads the disk as it was at the take')
    fd = os.open(image, os.O_RDONLY | os.O_DIRECT)
    try:
        check(f'{image}: block {before}, as on the disk', original, read_block(fd, before))
        write_block(d.path, before, 0x5a)
        write_block(d.path, after, 0x5a)
        check(f'{d.path}: block {before}, overwritten', b'\x5a' * BLOCK_SIZE,
              read_device_block(d.path, before))
        check(f'{image}: block {before}, still as at the take', original,
              read_block(fd, before))
        check(f'{image}: block {after}, as at the take', original_after,
              read_block(fd, after))
        client.expect_error('do', 'snapshot-destroy', id_attr, errno.EBUSY, 'image is open')
    finally:
        os.close(fd)
    check('snapshot-get: two chunks copied',
          {**taken, 'storage-used': 2 * chunk_sectors}, client.do('snapshot-get', id_attr))

    step('cbt-map-read with snapshot-id: the map as the take froze it')
    data, gens, _ = read_map(client, d.by_num, **id_attr)
    check('frozen map length', d.block_count, len(data))
    check('changed blocks of the frozen map', {before: tracker['snap-number']},
          changed(data))
    check('generation id of the frozen map', {tracker['generation-id']}, gens)
    data, gens, _ = read_map(client, d.by_path,
                             **{**id_attr, 'map-offset': before - 1, 'map-length': 3})
    check('slice of the frozen map', bytes([0, tracker['snap-number'], 0]), data)
    data, gens, _ = read_map(client, d.by_num)
    check('changed blocks of the live map',
          {before: advanced['snap-number'], after: advanced['snap-number']}, changed(data))
    check('generation id of the live map', {tracker['generation-id']}, gens)

    step('snapshot-destroy')
    check('snapshot-destroy reply', None, client.do('snapshot-destroy', id_attr))
    listener.expect('snapshot-del-ntf', {'snapshot-id': snap_id})
    if os.path.exists(image):
        raise Failure(f'{image} still exists after snapshot-destroy')
    check('snapshot-get dump after destroy', [], client.dump('snapshot-get', {}))
    client.expect_error('do', 'snapshot-get', id_attr, errno.ENOENT, NO_SNAPSHOT)
    client.expect_error('do', 'snapshot-destroy', id_attr, errno.ENOENT, NO_SNAPSHOT)
    check('tracker-get after destroy', advanced, client.do('tracker-get', d.by_num))
    return advanced


def snapshot_overflow(client, listener, d, tracker):
    """A snapshot of d with two chunks of storage and a low-free threshold
    above that: low space, then overflow; tracker is d's tracker-get now."""
    chunk_size = 65536
    chunk_sectors = chunk_size // SECTOR
    chunk_blocks = chunk_size // BLOCK_SIZE
    low_free = 32 * chunk_sectors  # more than the storage will ever be
    base = 32768  # the storage's first sector on the storage disk
    device = {'dev-major': d.major, 'dev-minor': d.minor, 'error': 0}

    step('snapshot-create with chunk-size and low-free-sectors')
    created = client.do('snapshot-create', {'device': [d.by_num], 'chunk-size': chunk_size,
                                            'low-free-sectors': low_free})
    print(f'reply: {created}')
    snap_id = created.get('snapshot-id')
    id_attr = {'snapshot-id': generation_bytes(snap_id, 'snapshot-id')}
    check('snapshot-create reply',
          snapshot_info(snap_id, 'created', chunk_size, low_free, 0, 0, 0, [device]),
          created)
    listener.expect('snapshot-add-ntf', created)

    step('one chunk of storage, then the take')
    appended = client.do('snapshot-append-storage', {**id_attr, 'storage-range': [
        {'dev-major': os.major(os.stat(d.storage).st_rdev),
         'dev-minor': os.minor(os.stat(d.storage).st_rdev),
         'start': base, 'count': chunk_sectors}]})
    check('snapshot-append-storage reply', {**created, 'storage-total': chunk_sectors},
          appended)
    listener.expect('snapshot-change-ntf', appended)
    taken = client.do('snapshot-take', id_attr)
    print(f'reply: {taken}')
    image_dev = (taken.get('device') or [{}])[0]
    image = check_image(image_dev, d.capacity)
    frozen = {**device, 'image-major': image_dev.get('image-major'),
              'image-minor': image_dev.get('image-minor'),
              'image-name': image_dev.get('image-name'),
              'snap-number': tracker['snap-number'],
              'generation-id': tracker['generation-id']}
    check('snapshot-take reply', {**appended, 'state': 'taken', 'device': [frozen]}, taken)
    listener.expect('tracker-change-ntf',
                    {**tracker, 'snap-number': tracker['snap-number'] + 1})
    listener.expect('snapshot-change-ntf', taken)

    def expect_low_space(total):
        ntf = listener.next()
        check('notification', 'snapshot-low-space-ntf', ntf['name'])
        low = ntf['msg']
        check('snapshot-low-space-ntf attributes',
              ['snapshot-id', 'storage-total', 'storage-used', 'wanted-sectors'], sorted(low))
        check('snapshot-low-space-ntf: snapshot, storage total and used',
              (snap_id, total, 0),
              (low['snapshot-id'], low['storage-total'], low['storage-used']))
        if low['wanted-sectors'] < low_free:
            raise Failure(f"wanted-sectors {low['wanted-sectors']} < low-free-sectors {low_free}")
        print(f"ok: wanted-sectors {low['wanted-sectors']} >= low-free-sectors {low_free}")

    step('taken with free storage under low-free-sectors: snapshot-low-space-ntf at once')
    expect_low_space(chunk_sectors)

    step('a second chunk of storage, still under low-free-sectors: asked again')
    appended = client.do('snapshot-append-storage', {**id_attr, 'storage-range': [
        {'dev-path': d.storage, 'start': base + chunk_sectors, 'count': chunk_sectors}]})
    check('snapshot-append-storage reply', {**taken, 'storage-total': 2 * chunk_sectors},
          appended)
    listener.expect('snapshot-change-ntf', appended)
    expect_low_space(2 * chunk_sectors)

    step('overwriting four chunks of the disk overflows the two of storage')
    write_block(d.path, 0, 0x3c, count=4 * chunk_blocks)
    ntf = listener.next()
    check('notification', 'tracker-change-ntf', ntf['name'])
    renewed = ntf['msg']
    if renewed.get('generation-id') == tracker['generation-id']:
        raise Failure('the corrupted snapshot left the CBT generation as it was')
    check('tracker-change-ntf: a new generation at snap number 1',
          {**tracker, 'generation-id': renewed.get('generation-id'), 'snap-number': 1},
          renewed)
    failed = {**frozen, 'error': errno.ENOSPC}
    listener.expect('snapshot-corrupted-ntf',
                    {'snapshot-id': snap_id, 'error': errno.ENOSPC, 'device': [failed]})
    corrupted = {**appended, 'state': 'corrupted', 'error': errno.ENOSPC,
                 'storage-used': 2 * chunk_sectors, 'device': [failed]}
    listener.expect('snapshot-change-ntf', corrupted)
    check('snapshot-get do', corrupted, client.do('snapshot-get', id_attr))
    check('tracker-get', renewed, client.do('tracker-get', d.by_num))
    check(f'{d.path}: the overwritten chunks', b'\x3c' * BLOCK_SIZE,
          read_device_block(d.path, 4 * chunk_blocks - 1))
    fd = os.open(image, os.O_RDONLY | os.O_DIRECT)
    try:
        read_block(fd, 0)
        raise Failure(f'a read of the corrupted {image} succeeded')
    except OSError as e:
        check(f'{image}: read error', 'EIO', errno.errorcode.get(e.errno, e.errno))
    finally:
        os.close(fd)
    client.expect_error('do', 'snapshot-append-storage', {**id_attr, 'storage-range': [
        {'dev-path': d.storage, 'start': base + 2 * chunk_sectors,
         'count': chunk_sectors}]}, errno.EIO, 'corrupted')

    step('snapshot-destroy of the corrupted snapshot')
    check('snapshot-destroy reply', None, client.do('snapshot-destroy', id_attr))
    listener.expect('snapshot-del-ntf', {'snapshot-id': snap_id})
    check('snapshot-get dump after destroy', [], client.dump('snapshot-get', {}))


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
            ('dump', 'cbt-map-read', by_num),
            ('do', 'snapshot-create', {'device': [by_num]})):
        try:
            client.expect_error(mode, op, attrs, errno.ENOENT, NOT_TRACKED)
        except Failure as e:  # every row is checked; all failures are told
            refusals.append(str(e))
    # A wrong refusal is told at the end, after the other ops have run.
    check('tracker-get dump before attach', [], client.dump('tracker-get', {}))

    step('every op that names a snapshot refuses an unknown one')
    unknown = {'snapshot-id': uuid.uuid4().bytes}
    for mode, op, attrs in (
            ('do', 'snapshot-get', unknown),
            ('do', 'snapshot-take', unknown),
            ('do', 'snapshot-destroy', unknown),
            ('do', 'snapshot-append-storage', {**unknown, 'storage-range': [
                {'dev-path': args.storage, 'start': 0, 'count': 128}]})):
        try:
            client.expect_error(mode, op, attrs, errno.ENOENT, NO_SNAPSHOT)
        except Failure as e:
            refusals.append(str(e))
    check('snapshot-get dump before create', [], client.dump('snapshot-get', {}))
    check('snapshot-get dump naming an unknown snapshot', [],
          client.dump('snapshot-get', unknown))

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
    try:
        client.expect_error('dump', 'cbt-map-read', {**by_num, **unknown}, errno.ENOENT,
                            NO_SNAPSHOT)
    except Failure as e:
        refusals.append(str(e))

    d = argparse.Namespace(path=disk, storage=args.storage, major=major, minor=minor,
                           by_num=by_num, by_path=by_path, capacity=capacity,
                           block_count=block_count)
    tracker = snapshot_taken_and_read(client, listener, d, reset)
    snapshot_overflow(client, listener, d, tracker)

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
    parser.add_argument('--storage', required=True,
                        help='a scratch disk for difference storage, of 32 MiB at least')
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
        # Leave no snapshot and nothing tracked, so that the module can go.
        try:
            for snapshot in client.ynl.dump('snapshot-get', {}):
                client.ynl.do('snapshot-destroy', {
                    'snapshot-id': uuid.UUID(snapshot['snapshot-id']).bytes})
        except NlError:
            pass
        try:
            client.ynl.do('tracker-detach', {'dev-path': args.disk})
        except NlError:
            pass
        return 1
    print('every op of the family worked through YNL')
    return 0


if __name__ == '__main__':
    sys.exit(main())

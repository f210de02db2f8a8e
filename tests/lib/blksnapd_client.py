#!/usr/bin/python3
"""A python3-dbus client of blksnapd for the test cases: what busctl cannot
do (pass and receive file descriptors, stay connected as a bound caller).

  blksnapd_client.py image-sum SNAPSHOT DEVICE [writable]
      OpenImage; print "size=N md5=HEX access=ro|rw" of the whole fd
  blksnapd_client.py image-write SNAPSHOT DEVICE OFFSET FILE
      OpenImage with writable=true; write FILE's bytes at OFFSET, fsync
  blksnapd_client.py extents SNAPSHOT DEVICE GENERATION SNAP_NUMBER
      GetChangedExtents; print "seals=0xN", then "OFFSET+LENGTH" per extent
  blksnapd_client.py add-file SNAPSHOT PATH LIMIT [FLAGS]
      AddStorageFile with PATH opened with FLAGS (default rw-create: O_RDWR
      | O_CREAT; also ro, dir for O_RDONLY | O_DIRECTORY, path for O_PATH)
  blksnapd_client.py members XMLFILE...
      print the org.blksnap.Blksnap1.* members of introspection XML, one
      sorted line each: INTERFACE method|property|signal NAME SIGNATURE(S)
  blksnapd_client.py hold DEVICE... -- OPTION=VALUE...
      CreateSnapshot of the device objects with the options (name=t:N,
      name=s:TEXT, name=b:true|false), Take it, print "snapshot=PATH"
      and "ready", then stay connected until killed

SNAPSHOT and DEVICE are object paths.  A D-Bus error prints
"error: NAME: MESSAGE" on stderr and exits with status 1.
Run with Debian's /usr/bin/python3 (python3-dbus).
"""
import fcntl
import hashlib
import os
import signal
import sys

import xml.etree.ElementTree as ET

import dbus

BUS_NAME = "org.blksnap.Blksnap1"
ROOT = "/org/blksnap/Blksnap1"
IFACE = "org.blksnap.Blksnap1"
F_GET_SEALS = 1034


def iface(bus, path, name):
    return dbus.Interface(bus.get_object(BUS_NAME, path, introspect=False), IFACE + "." + name)


def image_sum(bus, snapshot, device, writable=None):
    opts = dbus.Dictionary({}, signature="sv")
    if writable == "writable":
        opts["writable"] = dbus.Boolean(True)
    fd = iface(bus, snapshot, "Snapshot").OpenImage(dbus.ObjectPath(device), opts).take()
    flags = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    h = hashlib.md5()
    size = 0
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            size += len(b)
    access = {os.O_RDONLY: "ro", os.O_RDWR: "rw", os.O_WRONLY: "wo"}[flags]
    print(f"size={size} md5={h.hexdigest()} access={access}")


def image_write(bus, snapshot, device, offset, path):
    opts = dbus.Dictionary({"writable": dbus.Boolean(True)}, signature="sv")
    fd = iface(bus, snapshot, "Snapshot").OpenImage(dbus.ObjectPath(device), opts).take()
    with open(path, "rb") as f:
        data = f.read()
    if os.pwrite(fd, data, int(offset)) != len(data):
        sys.exit("short write to the image")
    os.fsync(fd)
    os.close(fd)


def extents(bus, snapshot, device, generation, snap_number):
    fd = iface(bus, snapshot, "Snapshot").GetChangedExtents(
        dbus.ObjectPath(device), generation, dbus.Byte(int(snap_number)),
        dbus.Dictionary({}, signature="sv")).take()
    print(f"seals={fcntl.fcntl(fd, F_GET_SEALS):#x}")
    with os.fdopen(fd, "rb", buffering=0) as f:
        f.seek(0)
        data = f.read()
    if len(data) % 16:
        sys.exit(f"the extents are {len(data)} bytes, not a multiple of 16")
    for i in range(0, len(data), 16):
        offset = int.from_bytes(data[i:i + 8], "little")
        length = int.from_bytes(data[i + 8:i + 16], "little")
        print(f"{offset}+{length}")


def add_file(bus, snapshot, path, limit, how="rw-create"):
    flags = {"rw-create": os.O_RDWR | os.O_CREAT, "ro": os.O_RDONLY,
             "dir": os.O_RDONLY | os.O_DIRECTORY, "path": os.O_PATH,
             "rw": os.O_RDWR}[how]
    fd = os.open(path, flags, 0o600)
    iface(bus, snapshot, "Snapshot").AddStorageFile(
        dbus.types.UnixFd(fd), dbus.UInt64(int(limit)), dbus.Dictionary({}, signature="sv"))
    os.close(fd)


def members(files):
    lines = set()
    for f in files:
        for i in ET.parse(f).getroot().iter("interface"):
            name = i.get("name")
            if not name.startswith(IFACE + "."):
                continue
            for m in i.findall("method"):
                args = m.findall("arg")
                ins = "".join(a.get("type") for a in args if a.get("direction", "in") == "in")
                outs = "".join(a.get("type") for a in args if a.get("direction") == "out")
                lines.add(f"{name} method {m.get('name')} in={ins} out={outs}")
            for p in i.findall("property"):
                lines.add(f"{name} property {p.get('name')} {p.get('type')} {p.get('access')}")
            for sg in i.findall("signal"):
                sig = "".join(a.get("type") for a in sg.findall("arg"))
                lines.add(f"{name} signal {sg.get('name')} {sig}")
    print("\n".join(sorted(lines)))


def option(text):
    name, value = text.split("=", 1)
    kind, value = value.split(":", 1)
    if kind == "t":
        return name, dbus.UInt64(int(value))
    if kind == "s":
        return name, dbus.String(value)
    if kind == "b":
        return name, dbus.Boolean(value == "true")
    raise ValueError(f"option {text}: type {kind}?")


def hold(bus, args):
    split = args.index("--") if "--" in args else len(args)
    devices = [dbus.ObjectPath(d) for d in args[:split]]
    opts = dbus.Dictionary(dict(option(o) for o in args[split + 1:]), signature="sv")
    path = iface(bus, ROOT, "Manager").CreateSnapshot(dbus.Array(devices, signature="o"), opts)
    iface(bus, path, "Snapshot").Take(dbus.Dictionary({}, signature="sv"))
    print(f"snapshot={path}")
    print("ready", flush=True)
    signal.pause()


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "members":
        members(args)
        return
    bus = dbus.SystemBus()
    try:
        if cmd == "image-sum":
            image_sum(bus, *args)
        elif cmd == "image-write":
            image_write(bus, *args)
        elif cmd == "extents":
            extents(bus, *args)
        elif cmd == "add-file":
            add_file(bus, *args)
        elif cmd == "hold":
            hold(bus, args)
        else:
            sys.exit(__doc__)
    except dbus.exceptions.DBusException as e:
        print(f"error: {e.get_dbus_name()}: {e.get_dbus_message()}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv)

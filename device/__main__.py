"""python -m device {init, register, send, flush, watch, status}: see docs/devices.md."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from device.client import Client, SetupError
from device.config import TRANSPORTS, Config, ConfigError, default_home, load_config, load_or_create_key, save_config
from device.outbox import Busy

EXIT_QUEUED = 75  # EX_TEMPFAIL: the readings are safe on disk, not yet sent
EXIT_SETUP = 78  # EX_CONFIG: the server refuses this device's setup (401/404) or the configuration is invalid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m device", description="Thingstead's reference device client.")
    parser.add_argument("--home", type=Path, default=None, help="the device's directory (default ~/.thingstead-device)")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="write the configuration and make the device key")
    init.add_argument("--server", required=True, help="https://things.example.org")
    init.add_argument("--source", required=True, help="the source id from the source's page")
    init.add_argument("--secret", required=True, help="the source's whsec_… secret")
    init.add_argument("--thing", help="the thing's slug or external id")
    init.add_argument("--kind")
    init.add_argument("--unit")
    init.add_argument("--transport", choices=TRANSPORTS, default="http")
    init.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="the broker for mqtt5/mqtt311")
    init.add_argument("--no-sign", action="store_true", help="send readings without a device signature")

    commands.add_parser("register", help="print the device key for the owner to paste (and its QR)")

    send = commands.add_parser("send", help="record one reading and send everything queued")
    send.add_argument("value", type=float)
    send.add_argument("--kind")
    send.add_argument("--unit")
    send.add_argument("--thing")
    send.add_argument("--time", help="RFC 3339; default now")
    send.add_argument("--no-flush", action="store_true", help="only queue it")

    flush = commands.add_parser("flush", help="send everything queued")
    flush.add_argument("--wait", action="store_true", help="keep trying (with backoff) until the queue is empty")
    flush.add_argument("--timeout", type=float, default=None, help="with --wait: give up after this many seconds")

    watch = commands.add_parser("watch", help="record one reading per stdin line (a number, or a JSON object)")
    watch.add_argument("--kind")

    commands.add_parser("status", help="queue length, last success, last error")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    home = args.home or default_home()
    try:
        return COMMANDS[args.command](home, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except SetupError as exc:
        print(f"the server refuses this device: {exc}; the queue is kept", file=sys.stderr)
        return EXIT_SETUP
    except Busy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_QUEUED


def cmd_init(home: Path, args: argparse.Namespace) -> int:
    config = Config(
        server=args.server.rstrip("/"),
        source=args.source,
        secret=args.secret,
        thing=args.thing,
        kind=args.kind,
        unit=args.unit,
        transport=args.transport,
        mqtt=args.mqtt,
        sign=not args.no_sign,
    )
    path = save_config(home, config)
    key, new = load_or_create_key(home)
    print(f"configuration written to {path}")
    print(f"device key {'made' if new else 'kept'}: {key.multibase}")
    if config.sign:
        print("next: python -m device register")
    return 0


def cmd_register(home: Path, args: argparse.Namespace) -> int:
    config = load_config(home)
    key, _ = load_or_create_key(home)
    where = f"{config.server}/things/{config.thing}/device-keys/" if config.thing else "the thing's Device keys page"
    print(f"Paste this device key on {where} (Add a key):\n\n    {key.multibase}\n")
    print("or register it with the API (an owner's token):")
    api = f"{config.server}/api/things/{config.thing or '<slug>'}/device-keys/"
    body = json.dumps({"public_key": key.multibase, "label": "device"})
    print(f"    curl -X POST -H 'Authorization: Token <token>' -H 'Content-Type: application/json' -d '{body}' {api}\n")
    try:
        import qrcode
    except ImportError:
        return 0
    code = qrcode.QRCode(border=1)
    code.add_data(key.multibase)
    code.print_ascii(invert=True)
    return 0


def cmd_send(home: Path, args: argparse.Namespace) -> int:
    client = Client.open(home)
    try:
        members = {name: getattr(args, name) for name in ("kind", "unit", "thing", "time") if getattr(args, name)}
        value = int(args.value) if args.value.is_integer() else args.value
        client.record(value, **members)
        if args.no_flush:
            return 0
        return _report(client, client.flush())
    finally:
        client.close()


def cmd_flush(home: Path, args: argparse.Namespace) -> int:
    client = Client.open(home)
    try:
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        return _report(client, client.flush(wait=args.wait, deadline=deadline))
    finally:
        client.close()


def cmd_watch(home: Path, args: argparse.Namespace) -> int:
    client = Client.open(home)
    lines = iter(sys.stdin)

    def sensor():
        line = next(lines).strip()  # StopIteration at the end of input ends the watch
        if not line:
            return None
        try:
            got = json.loads(line)
        except ValueError:
            print(f"not a number or a JSON object: {line!r}", file=sys.stderr)
            return None
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            got = {"value": got}
        if not isinstance(got, dict) or "value" not in got:
            print(f"not a number or a JSON object with a value: {line!r}", file=sys.stderr)
            return None
        if args.kind and "kind" not in got:
            got["kind"] = args.kind
        return got

    try:
        client.watch(sensor)
        return _report(client, None)
    finally:
        client.close()


def cmd_status(home: Path, args: argparse.Namespace) -> int:
    client = Client.open(home)
    try:
        outbox_status = client.status()
    finally:
        client.close()
    print(
        json.dumps(
            {
                "queued": outbox_status.queued,
                "waiting": outbox_status.waiting,
                "sealed": outbox_status.sealed,
                "rejected": outbox_status.rejected,
                "last_success": outbox_status.last_success,
                "last_error": outbox_status.last_error,
            },
            indent=2,
        )
    )
    return 0


def _report(client: Client, result) -> int:
    status = client.status()
    if result is not None and result.last is not None:
        print(f"sent {result.sent} readings; {status.queued} queued ({result.last.message})", file=sys.stderr)
        return EXIT_QUEUED
    print(f"sent {result.sent if result else 0} readings; {status.queued} queued, {status.rejected} set aside")
    return 0 if status.queued == 0 else EXIT_QUEUED


COMMANDS = {
    "init": cmd_init,
    "register": cmd_register,
    "send": cmd_send,
    "flush": cmd_flush,
    "watch": cmd_watch,
    "status": cmd_status,
}

if __name__ == "__main__":
    sys.exit(main())

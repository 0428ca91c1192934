"""``waystation sync``: this installation's identity, its peers, and the bundles it exchanges with them.

- ``identity``: the fingerprint, key string and (on a terminal) QR code that another installation enrols;
- ``enrol --name NAME --key KEYSTRING (--station CODE_NAME | --hub --url URL)``: shows the pasted key's fingerprint
  and asks to confirm it matches the other installation's (``--yes`` for scripts that compared it otherwise);
- ``peers``, ``revoke NAME``;
- ``export --peer NAME --out FILE --as USER`` and ``import FILE --as USER``: a bundle file (written 0600 by a
  rename, so a half-written file never has the final name);
- ``now --as USER`` (a station): push to the hub, then pull from it;
- ``process --as USER`` (the hub): import what stations pushed and prepare what they pull.

Bundles open this installation's private keys, which only a coordinator's password opens (``sync.identity``).
Refusals are one line and a non-zero exit, with nothing changed.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import qrcode
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from waystation.accounts.cli import password_of, user_named
from waystation.accounts.models import User
from waystation.lib.language import language_from_environment
from waystation.network.models import Station
from waystation.sync import network, services
from waystation.sync.access import can_exchange
from waystation.sync.bundle import is_kill_notice, max_bundle_bytes
from waystation.sync.identity import SyncError, identity_ensure, parse_key_string
from waystation.sync.models import Peer, PeerKind
from waystation.vault import crypto, userkeys
from waystation.vault.keyring import Keyring

SUBCOMMANDS = ("identity", "enrol", "peers", "revoke", "export", "import", "now", "process")


def write_private(path: Path, data: bytes) -> None:
    """``data`` at ``path``, readable by its owner only, by a rename: never half-written under the final name."""
    if not path.parent.is_dir():
        raise CommandError(_("The folder of %(path)s does not exist.") % {"path": path})
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".bundle-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def qr_text(text: str) -> str:
    """A QR code drawn with characters, for a terminal."""
    code = qrcode.QRCode(border=1)
    code.add_data(text)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


class Command(BaseCommand):
    help = (
        "Offline stations: `identity` shows this installation's fingerprint and key string; `enrol`, `peers` and "
        "`revoke` manage the hub and stations it exchanges with; `export` and `import` write and read signed, "
        "encrypted bundle files; `now` (a station) pushes to the hub and pulls from it; `process` (the hub) imports "
        "what stations pushed and prepares what they pull."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
        identity = sub.add_parser("identity", help="this installation's fingerprint, key string and QR code")
        identity.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
        enrol = sub.add_parser("enrol", help="add a hub or station after comparing its fingerprint")
        enrol.add_argument("--name", required=True, help="a short name for the peer, e.g. ALDER or hub")
        enrol.add_argument("--key", required=True, metavar="KEYSTRING", help="the key string the peer shows")
        which = enrol.add_mutually_exclusive_group(required=True)
        which.add_argument("--station", metavar="CODE_NAME", help="the peer is this station")
        which.add_argument("--hub", action="store_true", help="the peer is the organisation's hub")
        enrol.add_argument("--url", default="", help="the hub's address (https://...), for `sync now`")
        enrol.add_argument("--yes", action="store_true", help="the fingerprint was compared already: do not ask")
        sub.add_parser("peers", help="the peers enrolled, revoked ones too")
        revoke = sub.add_parser("revoke", help="refuse a peer's bundles from now on")
        revoke.add_argument("name", metavar="NAME")
        export = sub.add_parser("export", help="write a bundle for a peer")
        export.add_argument("--peer", required=True, metavar="NAME")
        export.add_argument("--out", required=True, type=Path, metavar="FILE")
        importing = sub.add_parser("import", help="verify and apply a bundle file")
        importing.add_argument("file", type=Path, metavar="FILE")
        sub.add_parser("now", help="a station: push to the hub, then pull from it")
        sub.add_parser("process", help="the hub: import what stations pushed, prepare what they pull")
        for name, subparser in sub.choices.items():
            subparser.add_argument("--json", action="store_true", help="print the result as JSON")
            subparser.add_argument("--language", help="en, ko or zh-hans (default: from LANGUAGE / LANG)")
            needs_user = name in ("export", "import", "now", "process")
            subparser.add_argument(
                "--as",
                dest="username",
                required=needs_user,
                help="the coordinator acting (password at the terminal, or WAYSTATION_PASSWORD)"
                if needs_user
                else "who is acting, for the audit trail (optional)",
            )

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        translation.activate(language_from_environment(options.get("language")))
        self.as_json = bool(options.get("json"))
        try:
            getattr(self, f"_{subcommand}")(options)
        except SyncError as exc:
            raise CommandError(exc.message) from None

    def _emit(self, data: dict[str, Any], lines: list[str]) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        for line in lines:
            self.stdout.write(line)

    # --- who acts ------------------------------------------------------------------------------------------------

    def _named(self, username: str | None) -> User | None:
        if not username:
            return None
        return user_named(
            username,
            allowed=lambda user: user.is_active,
            refusal=_("There is no active user %(user)s."),
        )

    def _coordinator(self, username: str) -> tuple[User, Keyring]:
        """The coordinator named, and their keys opened with their password for this run only."""
        user = user_named(
            username,
            allowed=can_exchange,
            refusal=_("Only a coordinator can exchange bundles: %(user)s is not one."),
        )
        password = password_of(user, refused=_("Wrong password: nothing was exchanged."))
        try:
            private = userkeys.unlock(user, password)
        except crypto.VaultError:
            raise CommandError(_("Your keys cannot be opened: sign in to the app once, then try again.")) from None
        return user, Keyring(user, private)

    def _peer(self, name: str) -> Peer:
        peer = Peer.objects.filter(name=name).first()
        if peer is None:
            names = ", ".join(Peer.objects.values_list("name", flat=True)) or "-"
            raise CommandError(_("No peer is named %(name)s. Peers: %(names)s.") % {"name": name, "names": names})
        return peer

    # --- identity and peers --------------------------------------------------------------------------------------

    def _identity(self, options: dict[str, Any]) -> None:
        own = identity_ensure(actor=self._named(options["username"]))
        data = {"fingerprint": own.fingerprint(), "key": own.key_string(), "key_id": own.key_id}
        lines = [
            _("Fingerprint: %(fingerprint)s") % data,
            _("Key string: %(key)s") % data,
            _("Compare the fingerprint with the one the other installation shows before it enrols this one."),
        ]
        if not options["no_qr"] and sys.stdout.isatty():
            lines.append(qr_text(data["key"]))
        self._emit(data, lines)

    def _enrol(self, options: dict[str, Any]) -> None:
        actor = self._named(options["username"])
        keys = parse_key_string(options["key"])
        station = None
        if options["station"]:
            station = Station.objects.filter(code_name=options["station"]).first()
            if station is None:
                raise CommandError(_("There is no station %(name)s.") % {"name": options["station"]})
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(
                    _("Compare the fingerprint on a terminal, or give --yes once it was compared: %(fingerprint)s")
                    % {"fingerprint": keys.fingerprint()}
                )
            self.stdout.write(_("Fingerprint of the key given: %(fingerprint)s") % {"fingerprint": keys.fingerprint()})
            answer = input(_("Does it match, digit for digit, the one the other installation shows? [y/N] "))
            if answer.strip().lower() not in ("y", "yes", "예", "是"):
                raise CommandError(_("Not enrolled: the fingerprints were not confirmed."))
        peer = services.peer_enrol(
            actor=actor,
            name=options["name"],
            key_string=options["key"],
            kind=PeerKind.HUB if options["hub"] else PeerKind.STATION,
            station=station,
            url=options["url"].strip(),
        )
        self._emit(
            {"name": peer.name, "kind": peer.kind, "fingerprint": keys.fingerprint()},
            [_("%(name)s is enrolled.") % {"name": peer.name}],
        )

    def _peers(self, options: dict[str, Any]) -> None:
        rows = []
        for peer in Peer.objects.select_related("station"):
            keys = services.peer_keys(peer)
            rows.append(
                {
                    "name": peer.name,
                    "kind": peer.kind,
                    "station": peer.station.code_name if peer.station else None,
                    "fingerprint": keys.fingerprint(),
                    "enrolled_at": peer.enrolled_at.isoformat(),
                    "revoked_at": peer.revoked_at.isoformat() if peer.revoked_at else None,
                    "last_sent_sequence": peer.last_sent_sequence,
                    "last_received_sequence": peer.last_received_sequence,
                }
            )
        lines = [
            f"{r['name']:<20} {r['kind']:<8} {r['station'] or '':<12} "
            f"{_('revoked') if r['revoked_at'] else _('enrolled')}  {r['fingerprint']}"
            for r in rows
        ] or [_("No peer enrolled.")]
        self._emit({"peers": rows}, lines)

    def _revoke(self, options: dict[str, Any]) -> None:
        peer = self._peer(options["name"])
        services.peer_revoke(actor=self._named(options["username"]), peer=peer)
        self._emit(
            {"name": peer.name, "revoked": True},
            [_("%(name)s is revoked: its bundles are refused from now on.") % {"name": peer.name}],
        )

    # --- bundles -------------------------------------------------------------------------------------------------

    def _export(self, options: dict[str, Any]) -> None:
        peer = self._peer(options["peer"])
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(_("The folder of %(path)s does not exist.") % {"path": out})
        user, keyring = self._coordinator(options["username"])
        notice = services.kill_notice_instead(peer=peer, keyring=keyring)
        if notice is not None:
            write_private(out, notice)
            self._emit(
                {"peer": peer.name, "file": str(out), "kill_notice": True},
                [
                    _(
                        "The kill switch was pulled here: the kill notice for %(peer)s is written to %(file)s. "
                        "Carry it to %(peer)s and import it there."
                    )
                    % {"peer": peer.name, "file": out}
                ],
            )
            return
        exported = services.bundle_export(actor=user, keyring=keyring, peer=peer)
        write_private(out, exported.data)
        data = {"peer": peer.name, "file": str(out), "sequence": exported.sequence, "bytes": exported.size}
        self._emit(
            data,
            [_("Bundle %(sequence)s for %(peer)s written to %(file)s (%(bytes)s bytes).") % data],
        )

    def _import(self, options: dict[str, Any]) -> None:
        path: Path = options["file"]
        user, keyring = self._coordinator(options["username"])
        try:
            size = path.stat().st_size
            if size > max_bundle_bytes():
                raise CommandError(_("The bundle is larger than this installation accepts."))
            data = path.read_bytes()
        except OSError:
            raise CommandError(_("Cannot read %(path)s.") % {"path": path}) from None
        if is_kill_notice(data):
            received = services.kill_notice_receive(actor=user, data=data)
            self._emit({"peer": received.peer, "kill_notice": True}, [received.message()])
            return
        imported = services.bundle_import(actor=user, keyring=keyring, data=data)
        self._emit(
            {"peer": imported.peer, "sequence": imported.sequence, **imported.counts},
            [_("Bundle %(sequence)s from %(peer)s imported.") % {"sequence": imported.sequence, "peer": imported.peer}]
            + [f"  {key}: {value}" for key, value in imported.counts.items()],
        )

    def _now(self, options: dict[str, Any]) -> None:
        user, keyring = self._coordinator(options["username"])
        result = network.sync_now(actor=user, keyring=keyring)
        pulled = result.pulled
        data: dict[str, Any] = {"pushed_bytes": result.pushed_bytes, "pulled": None}
        lines = [_("Pushed %(bytes)s bytes to the hub.") % {"bytes": result.pushed_bytes}]
        if result.kill_sent:
            data["kill_notice"] = True
            lines.append(_("The kill switch was pulled here: the hub has received its kill notice."))
        elif result.kill_received is not None:
            data["kill_notice"] = True
            lines.append(result.kill_received.message())
        elif pulled is None:
            lines.append(_("The hub has nothing new for this station yet."))
        else:
            data["pulled"] = {"sequence": pulled.sequence, **pulled.counts}
            lines.append(_("Bundle %(sequence)s from the hub imported.") % {"sequence": pulled.sequence})
            lines += [f"  {key}: {value}" for key, value in pulled.counts.items()]
        self._emit(data, lines)

    def _process(self, options: dict[str, Any]) -> None:
        user, keyring = self._coordinator(options["username"])
        counts = services.hub_process(actor=user, keyring=keyring)
        self._emit(
            counts,
            [
                _("Bundles imported: %(imported)s; refused: %(refused)s; prepared for stations to pull: %(prepared)s.")
                % counts
            ],
        )

#!/usr/bin/python3
"""libtorrent_seed.py: seed one .torrent with libtorrent until killed (for bench-seeder.sh).

Usage: /usr/bin/python3 scripts/libtorrent_seed.py TORRENT DATA_DIR PORT STATUS_FILE [SLOTS]

Runs with Debian's python3 and python3-libtorrent (the engine of qBittorrent and Deluge).
Listens on 127.0.0.1:PORT (TCP only: no uTP, DHT, LSD, UPnP or NAT-PMP), adds the torrent in
seed mode (pieces are checked lazily when first served, like podseed, not hashed up front),
announces to the torrent's trackers, and every half second writes one JSON line of figures
to STATUS_FILE (atomically): state, seeding, the peers connected, bytes of payload uploaded,
and whether the tracker answered. SIGTERM or SIGINT ends it.

Settings: libtorrent's defaults (what a desktop client ships with), plus no upload limit,
several connections per IP (every peer of the benchmark is 127.0.0.1, and libtorrent allows
only one per IP by default), SLOTS unchoke slots (default 16) and room for 200 connections.
LT_PRESET=high_performance_seed starts from libtorrent's tuned seed preset instead.
"""
import json
import os
import signal
import sys
import time

import libtorrent as lt


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    torrent, data_dir, port, status_file = sys.argv[1:5]
    slots = int(sys.argv[5]) if len(sys.argv) == 6 else 16

    preset = os.environ.get("LT_PRESET", "default")
    settings = lt.high_performance_seed() if preset == "high_performance_seed" else lt.default_settings()
    settings.update({
        "listen_interfaces": f"127.0.0.1:{port}",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "upload_rate_limit": 0,
        "download_rate_limit": 0,
        "connections_limit": 200,
        "unchoke_slots_limit": slots,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
    })
    session = lt.session(settings)

    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = data_dir
    params.flags |= lt.torrent_flags.seed_mode
    params.flags &= ~lt.torrent_flags.auto_managed
    params.flags &= ~lt.torrent_flags.paused
    handle = session.add_torrent(params)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    announced = False
    tmp = status_file + ".tmp"
    while not stop:
        for a in session.pop_alerts():
            if isinstance(a, lt.tracker_reply_alert):
                announced = True
            elif a.category() & lt.alert.category_t.error_notification or isinstance(a, lt.tracker_error_alert):
                print(f"libtorrent_seed: {a.message()}", file=sys.stderr, flush=True)
        s = handle.status()
        figures = {
            "state": str(s.state),
            "seeding": bool(s.is_seeding),
            "announced": announced,
            "peers": s.num_peers,
            "uploaded": s.total_payload_upload,
            "uploaded_all": s.total_upload,
            "upload_rate": s.upload_payload_rate,
        }
        with open(tmp, "w") as f:
            f.write(json.dumps(figures) + "\n")
        os.replace(tmp, status_file)
        time.sleep(0.5)
    # Say `stopped` to the tracker; give it a moment, never long.
    handle.pause()
    session.pause()
    time.sleep(0.3)


if __name__ == "__main__":
    main()
